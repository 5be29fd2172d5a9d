import ShortlistCore
import ShortlistTestSupport
import XCTest

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
