import Foundation
import ShortlistCore
import ShortlistTestSupport
import XCTest
@testable import ShortlistServer

/// `diversity`, `group_by` / `max_per_group` and `boost` on `search`, `similar` and `recommend`.
final class RerankTests: XCTestCase {
    func testGroupLimitsDiversityAndBoostsOnServedHits() throws {
        let dir = TemporaryDirectory()
        let processor = try RequestProcessor(collections: [try ServedCollection(try ServerFixtures.writeFeatureCollection(in: dir))])
        let s = processor.makeSession()
        func genres(_ line: String) -> [String] {
            (result(processor.handle(line, session: s))["hits"] as! [[String: Any]]).map { ($0["payload"] as! [String: Any])["genre"] as! String }
        }
        // A genre-2 history: plainly, genre 2 fills the list; at most 1 per genre, four genres.
        let plain = genres(#"{"op":"recommend","collection":"shows","history":[502,506,510],"k":8,"with_payload":true}"#)
        XCTAssertGreaterThanOrEqual(plain.filter { $0 == "g2" }.count, 6, "\(plain)")
        let grouped = genres(#"{"op":"recommend","collection":"shows","history":[502,506,510],"k":8,"with_payload":true,"group_by":"genre","max_per_group":1}"#)
        XCTAssertEqual(grouped.count, 4, "only four genres: the list stops when nothing is admissible")
        XCTAssertEqual(Set(grouped).count, 4)
        XCTAssertEqual(grouped.first, "g2", "the best stays first")
        // Without payloads in the reply, the limit still applies (payloads are read inside).
        XCTAssertEqual(hitIds(processor.handle(#"{"op":"recommend","collection":"shows","history":[502],"k":8,"group_by":"genre","max_per_group":2}"#, session: s)).count, 8)
        // A list field: every value counts (all shows have the tag "common").
        XCTAssertEqual(hitIds(processor.handle(#"{"op":"similar","collection":"shows","item_id":500,"k":8,"group_by":"tags","max_per_group":3}"#, session: s)).count, 3)
        // Diversity: λ 1 is the plain order; λ 0 spreads over genres.
        let top = hitIds(processor.handle(#"{"op":"similar","collection":"shows","item_id":500,"k":5}"#, session: s))
        XCTAssertEqual(hitIds(processor.handle(#"{"op":"similar","collection":"shows","item_id":500,"k":5,"diversity":{"lambda":1,"candidates":50}}"#, session: s)), top)
        let spread = genres(#"{"op":"similar","collection":"shows","item_id":500,"k":4,"with_payload":true,"diversity":{"lambda":0.2,"candidates":80}}"#)
        XCTAssertGreaterThan(Set(spread).count, 1, "\(spread)")
        // A boost lifts a genre to the top; its score includes the boost.
        let boosted = result(processor.handle(#"{"op":"search","collection":"shows","vector":[1,0,0,0,0,0,0,0],"k":3,"with_payload":true,"boost":{"genre":{"g3":10}}}"#, session: s))["hits"] as! [[String: Any]]
        XCTAssertTrue(boosted.allSatisfy { ($0["payload"] as! [String: Any])["genre"] as! String == "g3" })
        XCTAssertGreaterThan(boosted[0]["score"] as! Double, 9)
        // Bad shapes.
        for (line, code) in [
            (#"{"op":"search","collection":"shows","vector":[1,0,0,0,0,0,0,0],"group_by":"genre"}"#, "invalid_request"),
            (#"{"op":"search","collection":"shows","vector":[1,0,0,0,0,0,0,0],"max_per_group":2}"#, "invalid_request"),
            (#"{"op":"search","collection":"shows","vector":[1,0,0,0,0,0,0,0],"group_by":"genre","max_per_group":0}"#, "invalid_parameter"),
            (#"{"op":"search","collection":"shows","vector":[1,0,0,0,0,0,0,0],"diversity":{"lambda":1.5}}"#, "invalid_parameter"),
            (#"{"op":"search","collection":"shows","vector":[1,0,0,0,0,0,0,0],"diversity":{"candidates":10}}"#, "invalid_request"),
            (#"{"op":"search","collection":"shows","vector":[1,0,0,0,0,0,0,0],"diversity":{"lambda":0.5,"k":3}}"#, "unknown_field"),
            (#"{"op":"search","collection":"shows","vector":[1,0,0,0,0,0,0,0],"boost":{"genre":{"g3":"high"}}}"#, "invalid_request"),
            (#"{"op":"search","collection":"shows","vector":[1,0,0,0,0,0,0,0],"boost":{"genre":["g3"]}}"#, "invalid_request"),
            (#"{"op":"search_batch","collection":"shows","vectors":[[1,0,0,0,0,0,0,0]],"group_by":"genre","max_per_group":1}"#, "unknown_field"),
            // k × candidates past the bound: refused before any work.
            (#"{"op":"search","collection":"shows","vector":[1,0,0,0,0,0,0,0],"k":2000,"diversity":{"lambda":0.5,"candidates":1000}}"#, "limit_exceeded"),
        ] {
            XCTAssertEqual(errorCode(processor.handle(line, session: s)), code, line)
        }
    }

    func testPayloadFieldValues() {
        let p = Array(#"{"genre":"g1","tags":["a",2,true,null,{"x":1}],"n":3,"f":1.5,"o":{"genre":"inner"}}"#.utf8)
        let store = PayloadStore([1: p, 2: Array("[1,2]".utf8), 3: Array(#""text""#.utf8)])
        XCTAssertEqual(store.values("genre", of: 1), ["g1"])
        XCTAssertEqual(store.values("tags", of: 1), ["a", "2", "true"])
        XCTAssertEqual(store.values("n", of: 1), ["3"])
        XCTAssertEqual(store.values("f", of: 1), ["1.5"])
        XCTAssertEqual(store.values("o", of: 1), [], "objects are not values")
        XCTAssertEqual(store.values("missing", of: 1), [])
        XCTAssertEqual(store.values("genre", of: 2), [])
        XCTAssertEqual(store.values("genre", of: 3), [])
    }
}
