import Foundation
import ShortlistCore
import ShortlistTestSupport
import XCTest
@testable import ShortlistServer

/// `filter` conditions on payload fields (`must`, `should`, `must_not`, `match`, `range`,
/// `is_null`, `has_id`) on the `shows` fixture (80 shows, 20 per genre g0–g3, tags t0–t3 and
/// "common"), in memory and over loopback.
final class PayloadFilterTests: XCTestCase {
    private static let dir = TemporaryDirectory()
    private static let shows = try! ServerFixtures.writeFeatureCollection(in: dir)

    private func genre(_ id: UInt64) -> Int { Int((id - 500) % 4) }

    func testFilteredSearchNeverReturnsFewerThanKWhenKPass() throws {
        let processor = try RequestProcessor(collections: [try ServedCollection(Self.shows)])
        let s = processor.makeSession()
        var g = SeededGenerator(seed: 17)
        for trial in 0..<60 {
            let genres = (0..<4).filter { _ in g.next() % 2 == 0 }
            let k = 1 + Int(g.next() % 40)
            let any = genres.map { "\"g\($0)\"" }.joined(separator: ",")
            let excluded = Int(g.next() % 4)
            let line = #"{"op":"search","collection":"shows","vector":[1,0.5,0,0,0,0,0,0.2],"k":\#(k),"filter":{"must":[{"key":"genre","match":{"any":[\#(any)]}}],"must_not":[{"key":"tags","match":{"value":"t\#(excluded)"}}]}}"#
            let ids = hitIds(processor.handle(line, session: s))
            let passing = genres.filter { $0 != excluded }.count * 20
            XCTAssertEqual(ids.count, min(k, passing), "trial \(trial): \(line)")
            XCTAssertTrue(ids.allSatisfy { genres.contains(genre($0)) && genre($0) != excluded }, "trial \(trial): \(ids)")
        }
        // should, has_id, is_null, nested groups.
        let should = hitIds(processor.handle(#"{"op":"similar","collection":"shows","item_id":500,"k":50,"filter":{"should":[{"key":"genre","match":{"value":"g1"}},{"has_id":[502,506]}]}}"#, session: s))
        XCTAssertEqual(should.count, 22)
        let nested = hitIds(processor.handle(#"{"op":"search","collection":"shows","vector":[1,0,0,0,0,0,0,0],"k":50,"filter":{"must":[{"should":[{"key":"genre","match":{"value":"g1"}},{"key":"genre","match":{"value":"g2"}}]},{"must_not":[{"has_id":[501]}]}]}}"#, session: s))
        XCTAssertEqual(nested.count, 39)
        XCTAssertEqual(hitIds(processor.handle(#"{"op":"search","collection":"shows","vector":[1,0,0,0,0,0,0,0],"k":5,"filter":{"must":[{"is_null":{"key":"genre"}}]}}"#, session: s)), [])
        // recommend takes it too, after exclude_seen.
        let recs = hitIds(processor.handle(#"{"op":"recommend","collection":"shows","history":[502,506],"k":10,"exclude_seen":true,"filter":{"must":[{"key":"genre","match":{"value":"g0"}}]}}"#, session: s))
        XCTAssertEqual(recs.count, 10)
        XCTAssertTrue(recs.allSatisfy { genre($0) == 0 })
        // Bad filters: clear errors.
        for (line, code) in [
            (#"{"op":"search","collection":"shows","vector":[1,0,0,0,0,0,0,0],"filter":{"must":[{"key":"colour","match":{"value":"red"}}]}}"#, "invalid_parameter"),
            (#"{"op":"search","collection":"shows","vector":[1,0,0,0,0,0,0,0],"filter":{"must":[{"key":"genre"}]}}"#, "invalid_request"),
            (#"{"op":"search","collection":"shows","vector":[1,0,0,0,0,0,0,0],"filter":{"must":[{"key":"genre","match":{"value":"g1"},"range":{"gt":1}}]}}"#, "invalid_request"),
            (#"{"op":"search","collection":"shows","vector":[1,0,0,0,0,0,0,0],"filter":{"must":[{"key":"genre","match":{"val":"g1"}}]}}"#, "unknown_field"),
            (#"{"op":"search","collection":"shows","vector":[1,0,0,0,0,0,0,0],"filter":{"must":[{"key":"price","range":{}}]}}"#, "invalid_request"),
            (#"{"op":"search","collection":"shows","vector":[1,0,0,0,0,0,0,0],"filter":{"must":{"key":"genre"}}}"#, "invalid_request"),
            (#"{"op":"search","collection":"shows","vector":[1,0,0,0,0,0,0,0],"filter":{"must":[{"key":"genre","match":{"value":{"a":1}}}]}}"#, "invalid_request"),
            (#"{"op":"search","collection":"shows","vector":[1,0,0,0,0,0,0,0],"filter":{"whatever":[]}}"#, "unknown_field"),
            (#"{"op":"search","collection":"shows","vector":[1,0,0,0,0,0,0,0],"filter":{"must":[\#(String(repeating: #"{"must":["#, count: 9))\#(String(repeating: "]}", count: 9))]}}"#, "too_large"),
            // 129 conditions in all, spread over nested groups: refused (each costs a pass).
            (#"{"op":"search","collection":"shows","vector":[1,0,0,0,0,0,0,0],"filter":{"should":[{"must":[\#((0..<64).map { _ in #"{"has_id":[1]}"# }.joined(separator: ","))]},{"must":[\#((0..<63).map { _ in #"{"has_id":[1]}"# }.joined(separator: ","))]}]}}"#, "too_large"),
        ] {
            XCTAssertEqual(errorCode(processor.handle(line, session: s)), code, line)
        }
    }

    func testFiltersFollowUpsertsDeletesAndRestartsOverLoopback() throws {
        let dir = TemporaryDirectory()
        var shows = Self.shows
        try FileManager.default.copyItem(atPath: shows.indexPath, toPath: dir.file("shows.idx"))
        shows.indexPath = dir.file("shows.idx")
        let year = #"{"id":3,"op":"search","collection":"shows","vector":[1,0,0,0,0,0,0,0],"k":50,"filter":{"must":[{"key":"year","range":{"gte":2000,"lt":2010}}]}}"#
        do {
            let server = try RunningServer([shows], durability: .always)
            let c = try server.client()
            // Searches on a flat collection are micro-batched: a filter or a boost must not be lost there.
            let boosted = hitIds(try c.request(#"{"id":1,"op":"search","collection":"shows","vector":[1,0,0,0,0,0,0,0],"k":3,"boost":{"genre":{"g3":10}}}"#))
            XCTAssertTrue(boosted.allSatisfy { genre($0) == 3 }, "\(boosted)")
            let filtered = hitIds(try c.request(#"{"id":2,"op":"search","collection":"shows","vector":[1,0,0,0,0,0,0,0],"k":5,"filter":{"must":[{"key":"genre","match":{"value":"g2"}}]}}"#))
            XCTAssertTrue(filtered.count == 5 && filtered.allSatisfy { genre($0) == 2 }, "\(filtered)")
            // New points with a year; then one deleted, one re-upserted without it.
            let points = (0..<20).map { i in #"{"id":\#(9000 + i),"vector":[\#(Float(i) / 20),1,0,0,0,0,0,0],"payload":{"year":\#(1995 + i)}}"# }.joined(separator: ",")
            XCTAssertEqual(json(try c.request(#"{"id":4,"op":"upsert","collection":"shows","points":[\#(points)]}"#))["ok"] as? Bool, true)
            XCTAssertEqual(Set(hitIds(try c.request(year))), Set((5..<15).map { UInt64(9000 + $0) }))
            _ = try c.request(#"{"id":5,"op":"delete","collection":"shows","ids":[9005]}"#)
            _ = try c.request(#"{"id":6,"op":"upsert","collection":"shows","points":[{"id":9006,"vector":[1,1,0,0,0,0,0,0],"payload":{"year":"unknown"}}]}"#)
            XCTAssertEqual(Set(hitIds(try c.request(year))), Set((7..<15).map { UInt64(9000 + $0) }))
        }
        // After a restart (log replay), the same answer.
        let again = try RunningServer([shows], durability: .always)
        XCTAssertEqual(Set(hitIds(try again.client().request(year))), Set((7..<15).map { UInt64(9000 + $0) }))
    }
}
