import ShortlistIndex
import XCTest

final class IndexSpecTests: XCTestCase {
    func testParsesAndRoundTrips() throws {
        for (text, expected) in [("Flat", IndexSpec.flat), ("flat", .flat), (" FLAT ", .flat), ("HNSW16", .hnsw(m: 16, storage: .float32)), ("hnsw 32", .hnsw(m: 32, storage: .float32)), ("HNSW8,SQfp16", .hnsw(m: 8, storage: .float16)), ("hnsw24, sq8", .hnsw(m: 24, storage: .sq8))] {
            let spec = try IndexSpec(parsing: text)
            XCTAssertEqual(spec, expected)
            XCTAssertEqual(try IndexSpec(parsing: spec.description), spec)
        }
        XCTAssertEqual(IndexSpec.hnsw(m: 16, storage: .float32).description, "HNSW16")
        XCTAssertEqual(IndexSpec.hnsw(m: 16, storage: .float16).description, "HNSW16,SQfp16")
        XCTAssertEqual(IndexSpec.hnsw(m: 16, storage: .sq8).description, "HNSW16,SQ8")
        XCTAssertEqual(IndexSpec.hnsw(m: 16, storage: .float32).kind, .hnsw)
    }

    func testRejectsWithAReason() {
        for bad in ["", "Flatt", "Flat,Flat", ",", "HNSW", "HNSW1", "HNSW999", "HNSWx", "HNSW16,Flat", "HNSW16,SQ4", "HNSW16,SQ8,SQfp16", "HNSW16,SQfp16,SQfp16"] {
            XCTAssertThrowsError(try IndexSpec(parsing: bad), bad) { error in
                guard case .invalidSpec(let s, let reason)? = error as? IndexError else { return XCTFail("\(error)") }
                XCTAssertEqual(s, bad)
                XCTAssertFalse(reason.isEmpty)
            }
        }
    }
}
