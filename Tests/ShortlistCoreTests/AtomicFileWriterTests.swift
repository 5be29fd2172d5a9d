@testable import ShortlistCore
import ShortlistTestSupport
import XCTest
#if canImport(Glibc)
import Glibc
#endif

final class AtomicFileWriterTests: XCTestCase {
    func testCommitReplacesAndAbandonLeavesTheOldFile() throws {
        let dir = TemporaryDirectory()
        let path = dir.write("f.bin", [1, 2, 3])
        do {
            let w = try AtomicFileWriter(path: path)
            try w.write([9, 9])
            // Dropped without commit: the old contents stay, no temporary file remains.
        }
        XCTAssertEqual(dir.read("f.bin"), [1, 2, 3])
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path), ["f.bin"])
        let w = try AtomicFileWriter(path: path)
        try w.write([4, 5])
        try [UInt8](repeating: 6, count: 2 << 20).withUnsafeBytes { try w.write($0) }
        try w.commit()
        let back = dir.read("f.bin")
        XCTAssertEqual(back.count, 2 + (2 << 20))
        XCTAssertEqual(Array(back.prefix(3)), [4, 5, 6])
    }

    func testTwoWritersOfOneTargetNeverShareATemporaryFile() throws {
        // The defect: every writer used TARGET.tmp-<pid>, opened with truncation, so a second
        // save truncated the first one's half-written file, which was then renamed over the target.
        let dir = TemporaryDirectory()
        let path = dir.write("t.idx", [0])
        let first = [UInt8](repeating: 1, count: 3 << 20), second = [UInt8](repeating: 2, count: 2 << 20)
        let a = try AtomicFileWriter(path: path)
        try a.write(first)
        let b = try AtomicFileWriter(path: path)
        XCTAssertNotEqual(a.temporaryFilePath, b.temporaryFilePath)
        try b.write(second)
        try a.commit()
        XCTAssertTrue(dir.read("t.idx") == first, "the first commit is whole")
        try b.commit()
        XCTAssertTrue(dir.read("t.idx") == second, "the last commit wins, whole")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path), ["t.idx"])
    }

    func testASymlinkPlantedAtATemporaryNameIsNeverFollowed() throws {
        let dir = TemporaryDirectory()
        let victim = dir.write("victim", [7, 7, 7])
        let path = dir.file("t.idx")
        // The name earlier versions used, and a few more guesses.
        for name in [path + ".tmp-\(getpid())", path + ".tmp"] {
            try FileManager.default.createSymbolicLink(atPath: name, withDestinationPath: victim)
        }
        let w = try AtomicFileWriter(path: path)
        var isLink = stat()
        XCTAssertEqual(lstat(w.temporaryFilePath, &isLink), 0)
        XCTAssertEqual(isLink.st_mode & S_IFMT, S_IFREG, "a new regular file")
        try w.write([1, 2])
        try w.commit()
        XCTAssertEqual(dir.read("victim"), [7, 7, 7])
        XCTAssertEqual(dir.read("t.idx"), [1, 2])
        XCTAssertEqual((try? FileManager.default.destinationOfSymbolicLink(atPath: path)), nil, "the target is a file, not a link")
    }

    func testUnwritableDirectoryIsAClearError() {
        XCTAssertThrowsError(try AtomicFileWriter(path: "/nonexistent-dir/x.idx")) { error in
            guard case .writeFailed(let path, _)? = error as? FileError else { return XCTFail("\(error)") }
            XCTAssertEqual(path, "/nonexistent-dir/x.idx")
        }
    }

    func testMappedFileErrors() {
        XCTAssertThrowsError(try MappedFile(path: "/nonexistent-file")) { XCTAssertEqual($0 as? FileError, .notFound(path: "/nonexistent-file")) }
        XCTAssertThrowsError(try MappedFile(path: "/tmp")) { error in
            guard case .cannotOpen? = error as? FileError else { return XCTFail("\(error)") }
        }
    }
}
