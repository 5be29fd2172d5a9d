import ShortlistIndex
import XCTest

final class IndexSpecTests: XCTestCase {
    func testParsesAndRoundTrips() throws {
        for text in ["Flat", "flat", " FLAT "] {
            let spec = try IndexSpec(parsing: text)
            XCTAssertEqual(spec, .flat)
            XCTAssertEqual(try IndexSpec(parsing: spec.description), spec)
        }
    }

    func testRejectsWithAReason() {
        for bad in ["", "Flatt", "Flat,Flat", ",", "HNSW"] {
            XCTAssertThrowsError(try IndexSpec(parsing: bad), bad) { error in
                guard case .invalidSpec(let s, let reason)? = error as? IndexError else { return XCTFail("\(error)") }
                XCTAssertEqual(s, bad)
                XCTAssertFalse(reason.isEmpty)
            }
        }
    }
}
