import ShortlistCore
import ShortlistData
import ShortlistTestSupport
import XCTest

/// Texmex formats (.fvecs/.ivecs/.bvecs): round trips and every kind of malformed file.
final class VectorFileTests: XCTestCase {
    private func texmex(rows: [[Float]], element: String = "f", declared: [Int32]? = nil) -> [UInt8] {
        var b: [UInt8] = []
        for (i, r) in rows.enumerated() {
            b.appendLE(declared?[i] ?? Int32(r.count))
            for v in r {
                switch element {
                case "i": b.appendLE(Int32(v))
                case "b": b.append(UInt8(v))
                default: b.appendLE(v)
                }
            }
        }
        return b
    }

    private func assertRefused(_ path: String, _ expected: VectorFileError, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try VectorFile.read(path: path), file: file, line: line) { error in
            XCTAssertEqual(error as? VectorFileError, expected, file: file, line: line)
        }
    }

    func testFvecsRoundTrip() throws {
        let dir = TemporaryDirectory()
        let m = Fixtures.clustered(count: 37, dimension: 5)
        try VectorFile.write(m, to: dir.file("a.fvecs"))
        let back = try VectorFile.read(path: dir.file("a.fvecs"))
        XCTAssertEqual(back.matrix.flatArray(), m.flatArray())
        XCTAssertNil(back.ids)
        XCTAssertEqual(dir.read("a.fvecs").count, 37 * (4 + 5 * 4))
    }

    func testIvecsAndBvecsReadAsFloatsAndIntMatrixRoundTrips() throws {
        let dir = TemporaryDirectory()
        let ip = dir.write("a.ivecs", texmex(rows: [[1, -2, 3], [4, 5, 600000]], element: "i"))
        XCTAssertEqual(try VectorFile.read(path: ip).matrix.flatArray(), [1, -2, 3, 4, 5, 600000])
        let bp = dir.write("a.bvecs", texmex(rows: [[0, 255], [7, 8]], element: "b"))
        XCTAssertEqual(try VectorFile.read(path: bp).matrix.flatArray(), [0, 255, 7, 8])
        let ints = IntMatrix(count: 2, width: 3, values: [1, 2, 3, -1, -1, 7])
        try ints.write(to: dir.file("r.ivecs"))
        XCTAssertEqual(try IntMatrix.read(path: dir.file("r.ivecs")), ints)
        XCTAssertEqual(Array(ints[row: 1]), [-1, -1, 7])
    }

    func testMalformedTexmexFilesAreRefusedWithRowAndReason() {
        let dir = TemporaryDirectory()
        let good = texmex(rows: [[1, 2, 3], [4, 5, 6], [7, 8, 9]])
        assertRefused(dir.write("empty.fvecs", []), .empty(path: dir.file("empty.fvecs")))
        assertRefused(dir.write("short.fvecs", [3, 0]),
                      .truncated(path: dir.file("short.fvecs"), row: 0, reason: "the file has 2 bytes, less than one row header"))
        assertRefused(dir.write("cut.fvecs", Array(good.dropLast(2))),
                      .truncated(path: dir.file("cut.fvecs"), row: 2, reason: "expected 16 bytes, found 14"))
        assertRefused(dir.write("cuthdr.fvecs", good + [3, 0]),
                      .truncated(path: dir.file("cuthdr.fvecs"), row: 3, reason: "only 2 bytes of its 4-byte header"))
        assertRefused(dir.write("ragged.fvecs", texmex(rows: [[1, 2, 3], [4, 5], [6, 7, 8]])),
                      .raggedRow(path: dir.file("ragged.fvecs"), row: 1, expected: 3, actual: 2))
        for d in [Int32(0), -4, 1 << 30] {
            let p = dir.write("dim\(d).fvecs", texmex(rows: [[1, 2, 3]], declared: [d]))
            XCTAssertThrowsError(try VectorFile.read(path: p)) { error in
                guard case .badHeader(let path, _)? = error as? VectorFileError else { return XCTFail("\(error)") }
                XCTAssertEqual(path, p)
            }
        }
        assertRefused(dir.write("nan.fvecs", texmex(rows: [[1, 2, 3], [4, .nan, 6]])),
                      .nonFinite(path: dir.file("nan.fvecs"), row: 1, column: 1))
        assertRefused(dir.write("inf.fvecs", texmex(rows: [[1, 2, -.infinity]])),
                      .nonFinite(path: dir.file("inf.fvecs"), row: 0, column: 2))
        assertRefused(dir.write("x.csv", good), .unknownFormat(path: dir.file("x.csv")))
        XCTAssertThrowsError(try VectorFile.read(path: dir.file("missing.fvecs"))) {
            XCTAssertEqual($0 as? FileError, .notFound(path: dir.file("missing.fvecs")))
        }
    }
}
