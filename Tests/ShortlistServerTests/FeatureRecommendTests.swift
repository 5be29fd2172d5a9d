import Foundation
import ShortlistCore
import ShortlistTestSupport
import XCTest
@testable import ShortlistServer

/// `recommend` from history, features and context, and `upsert` by features, in memory and over
/// a loopback socket, on the `shows` fixture (4 genres; items 500 + i are in genre i % 4).
final class FeatureRecommendTests: XCTestCase {
    private static let dir = TemporaryDirectory()
    private static let shows = try! ServerFixtures.writeFeatureCollection(in: dir)

    private func genre(_ id: UInt64) -> UInt64 { (id - 500) % 4 }

    func testRecommendForAUserTheModelNeverSaw() throws {
        let processor = try RequestProcessor(collections: [try ServedCollection(Self.shows)])
        let s = processor.makeSession()
        // Three genre-2 items as history, the hour and an unseen device: genre 2 comes first.
        let reply = processor.handle(#"{"op":"recommend","collection":"shows","history":[502,506,510],"context":{"hour":21,"device":"fridge"},"k":10,"exclude_seen":true,"with_payload":true}"#, session: s)
        let ids = hitIds(reply)
        XCTAssertEqual(ids.count, 10)
        XCTAssertTrue(Set(ids).isDisjoint(with: [502, 506, 510]), "exclude_seen leaves out the history")
        XCTAssertGreaterThanOrEqual(ids.filter { genre($0) == 2 }.count, 8, "\(ids)")
        let hits = result(reply)["hits"] as! [[String: Any]]
        XCTAssertNotNil((hits[0]["payload"] as? [String: Any])?["genre"], "payloads from the model folder")
        // Features alone (a segment) and a timestamp for context.
        let bySegment = hitIds(processor.handle(#"{"op":"recommend","collection":"shows","features":{"segment":"s3"},"context":{"timestamp":1700000000},"k":10}"#, session: s))
        XCTAssertGreaterThanOrEqual(bySegment.filter { genre($0) == 3 }.count, 8, "\(bySegment)")
        // A known user by id, with or without more.
        XCTAssertEqual(hitIds(processor.handle(#"{"op":"recommend","collection":"shows","user_id":1001,"k":5}"#, session: s)).count, 5)
        XCTAssertEqual(hitIds(processor.handle(#"{"op":"recommend","collection":"shows","user_id":1001,"history":[503],"k":5,"exclude_seen":true}"#, session: s)).count, 5)
        // An unknown id with a history is embedded from the history; alone, it is not found.
        XCTAssertEqual(hitIds(processor.handle(#"{"op":"recommend","collection":"shows","user_id":99,"history":[501],"k":3}"#, session: s)).count, 3)
        XCTAssertEqual(errorCode(processor.handle(#"{"op":"recommend","collection":"shows","user_id":99}"#, session: s)), "not_found")
        // Bad inputs: clear errors, nothing else.
        for (line, code) in [
            (#"{"op":"recommend","collection":"shows","k":3}"#, "invalid_request"),
            (#"{"op":"recommend","collection":"shows","features":{"colour":"red"}}"#, "invalid_parameter"),
            (#"{"op":"recommend","collection":"shows","context":{"mood":"x"}}"#, "invalid_parameter"),
            (#"{"op":"recommend","collection":"shows","features":{"segment":{"a":1}}}"#, "invalid_request"),
            (#"{"op":"recommend","collection":"shows","features":{"segment":[[1]]}}"#, "invalid_request"),
            (#"{"op":"recommend","collection":"shows","history":[1,-2]}"#, "invalid_request"),
            (#"{"op":"recommend","collection":"shows","history":"502"}"#, "invalid_request"),
            (#"{"op":"recommend","collection":"shows","features":[]}"#, "invalid_request"),
            (#"{"op":"recommend","collection":"shows","features":{"segment":"s1","segment":"s2"}}"#, "invalid_request"),
        ] {
            XCTAssertEqual(errorCode(processor.handle(line, session: s)), code, line)
        }
        // An unknown history item (uploaded after training) is skipped, not an error.
        XCTAssertEqual(hitIds(processor.handle(#"{"op":"recommend","collection":"shows","history":[502,123456789],"k":3}"#, session: s)).count, 3)
        let info = (result(processor.handle(#"{"op":"info"}"#, session: s))["collections"] as! [[String: Any]])[0]
        let model = try XCTUnwrap(info["model"] as? [String: Any])
        XCTAssertEqual(model["user_features"] as? [String], ["segment"])
        XCTAssertEqual(model["item_features"] as? [String], ["genre", "tags", "price", "blurb"])
        XCTAssertEqual(model["context"] as? [String], ["hour", "weekday", "device"])
        XCTAssertEqual(model["upsert_features"] as? Bool, true)
        XCTAssertEqual(model["unseen_users"] as? Bool, true)
        XCTAssertEqual(model["history"] as? Int, 5)
    }

    func testUpsertByFeaturesOverLoopbackThenSimilarAndRestart() throws {
        let dir = TemporaryDirectory()
        var shows = Self.shows
        // A private copy of the index, so the WAL and saves stay in this test's folder.
        try FileManager.default.copyItem(atPath: shows.indexPath, toPath: dir.file("shows.idx"))
        shows.indexPath = dir.file("shows.idx")
        do {
            let server = try RunningServer([shows], durability: .always)
            let c = try server.client()
            let up = json(try c.request(#"{"id":1,"op":"upsert","collection":"shows","points":[{"id":9001,"features":{"genre":"g1","tags":["t1"],"blurb":"a film about topic1"},"payload":{"title":"New show"}},{"id":9002,"vector":[1,0,0,0,0,0,0,0]}]}"#))
            XCTAssertEqual(up["ok"] as? Bool, true, "\(up)")
            // The new item's neighbours are its genre's.
            let near = hitIds(try c.request(#"{"id":2,"op":"similar","collection":"shows","item_id":9001,"k":5}"#))
            XCTAssertEqual(near.count, 5)
            XCTAssertTrue(near.allSatisfy { $0 != 9002 && genre($0) == 1 }, "\(near)")
            // And it is recommended to a genre-1 history.
            let recs = hitIds(try c.request(#"{"id":3,"op":"recommend","collection":"shows","history":[501,505,509],"k":15}"#))
            XCTAssertTrue(recs.contains(9001), "\(recs)")
            // A point may not carry both, nor a feature the model does not read; nothing changes.
            XCTAssertEqual(errorCode(try c.request(#"{"id":4,"op":"upsert","collection":"shows","points":[{"id":9003,"vector":[1,0,0,0,0,0,0,0],"features":{"genre":"g1"}}]}"#)), "invalid_request")
            XCTAssertEqual(errorCode(try c.request(#"{"id":5,"op":"upsert","collection":"shows","points":[{"id":9003,"features":{"segment":"s1"}}]}"#)), "invalid_parameter")
            XCTAssertEqual(errorCode(try c.request(#"{"id":6,"op":"get","collection":"shows","ids":[9003]}"#)), nil)
            XCTAssertEqual((result(try c.request(#"{"id":7,"op":"get","collection":"shows","ids":[9003]}"#))["points"] as! [Any]).count, 0)
        }
        // After a restart (WAL replay, no model needed for it) the item is still there.
        let again = try RunningServer([shows], durability: .always)
        let c = try again.client()
        XCTAssertEqual(hitIds(try c.request(#"{"id":8,"op":"similar","collection":"shows","item_id":9001,"k":5}"#)).count, 5)
    }

    func testUpsertByFeaturesNeedsAModelThatEmbedsThem() throws {
        let dir = TemporaryDirectory()
        let processor = try RequestProcessor(collections: [try ServedCollection(try ServerFixtures.writeDocumentCollection(in: dir)),
                                                           try ServedCollection(try ServerFixtures.writeRecommenderCollection(in: dir))])
        let s = processor.makeSession()
        XCTAssertEqual(errorCode(processor.handle(#"{"op":"upsert","collection":"items","points":[{"id":70,"features":{"genre":"x"}}]}"#, session: s)), "unsupported")
        XCTAssertEqual(errorCode(processor.handle(#"{"op":"upsert","collection":"movies","points":[{"id":70,"features":{"genre":"x"}}]}"#, session: s)), "unsupported")
        // The id-only model serves known ids only: no history field to embed an unseen user.
        XCTAssertEqual(errorCode(processor.handle(#"{"op":"recommend","collection":"movies","user_id":4000,"history":[1]}"#, session: s)), "not_found")
    }
}
