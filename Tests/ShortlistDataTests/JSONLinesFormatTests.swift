import ShortlistData
import ShortlistTestSupport
import XCTest

final class JSONLinesFormatTests: XCTestCase {
    func testReadsIdsVectorsAndSkipsPayloads() throws {
        let dir = TemporaryDirectory()
        let p = dir.write("v.jsonl", text: """
        {"id": 10, "vector": [1, 2.5, -3e-1]}

        {"vector": [4,5,6], "payload": {"title": "x", "tags": ["a", {"b": null}]}, "id": 18446744073709551615}
        """)
        let f = try VectorFile.read(path: p)
        XCTAssertEqual(f.ids, [10, UInt64.max])
        XCTAssertEqual(f.matrix.flatArray(), [1, 2.5, -0.3, 4, 5, 6])
    }

    func testMalformedLinesAreRefusedWithLineNumbers() {
        let dir = TemporaryDirectory()
        let cases: [(String, Int, String)] = [
            (#"{"id": 1, "vector": [1, 2]}"# + "\n" + #"{"id": 2, "vector": [1]}"#, 2, "components"),
            (#"{"id": 1, "vector": [1, 2]}"# + "\n" + #"{"vector": [1, 2]}"#, 2, "missing \"id\""),
            (#"{"id": 1}"#, 1, "missing \"vector\""),
            (#"{"id": 1, "vector": []}"#, 1, "empty"),
            (#"{"id": 1, "vector": [1], "score": 3}"#, 1, "unknown member"),
            (#"{"id": -1, "vector": [1]}"#, 1, "unsigned"),
            (#"{"id": 1.5, "vector": [1]}"#, 1, "integer"),
            (#"{"id": 1, "vector": [NaN]}"#, 1, "number"),
            (#"{"id": 1, "vector": [1e400]}"#, 1, "Float32"),
            (#"{"id": 1, "vector": [1,]}"#, 1, "expected"),
            (#"{"id": 1, "vector": [1]} x"#, 1, "text after"),
            (#"{"id": 1, "id": 2, "vector": [1]}"#, 1, "twice"),
            (#"[1, 2]"#, 1, "'{'"),
        ]
        for (i, (text, line, fragment)) in cases.enumerated() {
            let p = dir.write("bad\(i).jsonl", text: text)
            XCTAssertThrowsError(try VectorFile.read(path: p), text) { error in
                guard case let .badLine(path, l, reason)? = error as? VectorFileError else { return XCTFail("\(text): \(error)") }
                XCTAssertEqual(path, p)
                XCTAssertEqual(l, line, text)
                XCTAssert(reason.contains(fragment), "\(text): \(reason)")
            }
        }
        let dup = dir.write("dup.jsonl", text: "{\"id\": 3, \"vector\": [1]}\n{\"id\": 3, \"vector\": [2]}\n")
        XCTAssertThrowsError(try VectorFile.read(path: dup)) { XCTAssertEqual($0 as? VectorFileError, .duplicateId(path: dup, line: 2, id: 3)) }
        let empty = dir.write("empty.jsonl", text: "\n\n")
        XCTAssertThrowsError(try VectorFile.read(path: empty)) { XCTAssertEqual($0 as? VectorFileError, .empty(path: empty)) }
    }
}
