import ShortlistData
import ShortlistTestSupport
import XCTest

final class IdFileTests: XCTestCase {
    func testRoundTripAndTolerantWhitespace() throws {
        let dir = TemporaryDirectory()
        try IdFile.write([5, 0, UInt64.max], to: dir.file("ids.txt"))
        XCTAssertEqual(try IdFile.read(path: dir.file("ids.txt")), [5, 0, UInt64.max])
        let p = dir.write("b.txt", text: "# item ids\n 7 \r\n\n8\n")
        XCTAssertEqual(try IdFile.read(path: p), [7, 8])
    }

    func testBadAndDuplicateIdsAreRefused() {
        let dir = TemporaryDirectory()
        let bad = dir.write("bad.txt", text: "1\n2\nthree\n")
        XCTAssertThrowsError(try IdFile.read(path: bad)) { error in
            guard case let .badLine(_, line, _)? = error as? VectorFileError else { return XCTFail("\(error)") }
            XCTAssertEqual(line, 3)
        }
        let neg = dir.write("neg.txt", text: "-1\n")
        XCTAssertThrowsError(try IdFile.read(path: neg))
        let dup = dir.write("dup.txt", text: "1\n2\n1\n")
        XCTAssertThrowsError(try IdFile.read(path: dup)) { XCTAssertEqual($0 as? VectorFileError, .duplicateId(path: dup, line: 3, id: 1)) }
    }
}
