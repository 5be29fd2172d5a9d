import Foundation
import ShortlistCore
import ShortlistIndex
import ShortlistTestSupport
import XCTest
@testable import ShortlistServer

/// The ops without a network: `RequestProcessor.handle` runs a line start to finish.
func XCTAssertEqual(_ a: [Double], _ b: [Double], accuracy: Double, file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(a.count, b.count, file: file, line: line)
    for (x, y) in zip(a, b) { XCTAssertEqual(x, y, accuracy: accuracy, "\(a) vs \(b)", file: file, line: line) }
}

final class RequestProcessorTests: XCTestCase {
    private var dir: TemporaryDirectory!
    private var processor: RequestProcessor!
    private var session: RequestProcessor.Session!
    private var base: VectorMatrix!

    override func setUpWithError() throws {
        dir = TemporaryDirectory()
        let graph: ServedCollection.Description
        (graph, base) = try ServerFixtures.writeGraphCollection(in: dir)
        let items = try ServerFixtures.writeDocumentCollection(in: dir)
        processor = try RequestProcessor(collections: [try ServedCollection(items), try ServedCollection(graph)])
        session = processor.makeSession()
    }

    private func send(_ line: String) -> String { processor.handle(line, session: session) }

    func testSearchScoresFollowTheMetric() throws {
        // Inner product: score = dot product, best first.
        let r = result(send(#"{"id":5,"op":"search","collection":"items","vector":[1,0.5,0,0],"k":3,"with_payload":true}"#))
        let hits = r["hits"] as! [[String: Any]]
        XCTAssertEqual(hits.map { ($0["id"] as! NSNumber).intValue }, [1, 2, 6])
        XCTAssertEqual(hits.map { ($0["score"] as! NSNumber).doubleValue }, [1, 0.95, 0.75], accuracy: 1e-6)
        XCTAssertEqual((hits[1]["payload"] as? [String: Any])?["title"] as? String, "Aliens")
        XCTAssertNotNil(r["took_us"])
        XCTAssertEqual(json(send(#"{"id":"x","op":"ping"}"#))["id"] as? String, "x")
    }

    func testFiltersNeverReturnFewerThanKWhenKPass() throws {
        let q = ServerFixtures.vectorJSON(base.rowArray(10))
        let plain = hitIds(send(#"{"op":"search","collection":"graph","vector":\#(q),"k":10,"params":{"ef":64}}"#))
        XCTAssertEqual(plain.count, 10)
        // Excluding the 10 best still gives 10 hits, none of them excluded.
        let excluded = hitIds(send(#"{"op":"search","collection":"graph","vector":\#(q),"k":10,"filter":{"exclude_ids":\#(plain)}}"#))
        XCTAssertEqual(excluded.count, 10)
        XCTAssertTrue(Set(excluded).isDisjoint(with: plain))
        // A small include set is scored exactly.
        let include: [UInt64] = [3, 700, 1500, 1999, 42]
        let inc = hitIds(send(#"{"op":"search","collection":"graph","vector":\#(q),"k":3,"filter":{"include_ids":\#(include)}}"#))
        let exact = include.map { id in (id, Fixtures.referenceDistance(.cosine, base.rowArray(10), base.rowArray(Int(id)))) }
            .sorted { $0.1 < $1.1 }.prefix(3).map(\.0)
        XCTAssertEqual(inc, exact)
        // Asking for more than pass the filter gives all that pass.
        XCTAssertEqual(Set(hitIds(send(#"{"op":"search","collection":"graph","vector":\#(q),"k":10,"filter":{"include_ids":[1,2,99999]}}"#))), [1, 2])
    }

    func testLargeIncludeFiltersOnTheGraphFindKIncludedItems() throws {
        // Half and a fifteenth of the items included: the graph walk, then the row scan.
        let collection = processor.collections["graph"]!
        let q = base.rowArray(11)
        for modulus: UInt64 in [2, 15] {
            let included = (0..<2_000).map(UInt64.init).filter { $0 % modulus == 1 }
            let hits = try collection.search(q, k: 10, parameters: SearchParameters(ef: 64), filter: .init(include: Set(included)), withPayload: false)
            XCTAssertEqual(hits.count, 10, "1 in \(modulus)")
            XCTAssertTrue(hits.allSatisfy { $0.id % modulus == 1 })
            let want = included.map { ($0, Fixtures.referenceDistance(.cosine, q, base.rowArray(Int($0)))) }.sorted { $0.1 < $1.1 }.prefix(10).map(\.0)
            XCTAssertGreaterThanOrEqual(Set(hits.map(\.id)).intersection(want).count, 9, "1 in \(modulus)")
        }
    }

    func testSimilarExcludesTheItemItself() {
        let ids = hitIds(send(#"{"op":"similar","collection":"items","item_id":1,"k":2}"#))
        XCTAssertEqual(ids, [2, 6])
        XCTAssertEqual(errorCode(send(#"{"op":"similar","collection":"items","item_id":77}"#)), "not_found")
    }

    func testUpsertGetDeleteAndBadWritesChangeNothing() throws {
        let up = result(send(#"{"op":"upsert","collection":"items","points":[{"id":10,"vector":[0,0,0,2],"payload":{"title":"Brazil"}},{"id":1,"vector":[0,0,0,1]}]}"#))
        XCTAssertEqual(up["upserted"] as? Int, 2)
        XCTAssertEqual(up["count"] as? Int, 7)
        XCTAssertEqual(hitIds(send(#"{"op":"search","collection":"items","vector":[0,0,0,1],"k":2}"#)), [10, 1])
        let got = result(send(#"{"op":"get","collection":"items","ids":[10,1,99]}"#))
        let points = got["points"] as! [[String: Any]]
        XCTAssertEqual(points.count, 2)
        XCTAssertEqual((points[0]["vector"] as! [NSNumber]).map(\.floatValue), [0, 0, 0, 2])
        XCTAssertEqual((points[0]["payload"] as? [String: Any])?["title"] as? String, "Brazil")
        XCTAssertTrue(points[1]["payload"] is NSNull, "an upsert without payload drops the old one")
        XCTAssertEqual((got["not_found"] as! [NSNumber]).map(\.intValue), [99])
        // One bad point refuses the whole upsert.
        for (bad, code) in [(#"[{"id":11,"vector":[1,1,1,1]},{"id":12,"vector":[1,1]}]"#, "dimension_mismatch"),
                            (#"[{"id":11,"vector":[1,1,1,1]},{"id":12,"vector":[1,1,1,1e39]}]"#, "invalid_vector"),
                            (#"[{"id":11,"vector":[1,1,1,1]},{"id":11,"vector":[1,1,1,1]}]"#, "invalid_request")] {
            XCTAssertEqual(errorCode(send(#"{"op":"upsert","collection":"items","points":\#(bad)}"#)), code, bad)
        }
        XCTAssertEqual(processor.collections["items"]!.count, 7)
        XCTAssertEqual((result(send(#"{"op":"get","collection":"items","ids":[11]}"#))["not_found"] as! [NSNumber]).count, 1)
        let del = result(send(#"{"op":"delete","collection":"items","ids":[10,99]}"#))
        XCTAssertEqual(del["deleted"] as? Int, 1)
        XCTAssertEqual((del["not_found"] as! [NSNumber]).map(\.intValue), [99])
        XCTAssertEqual(del["count"] as? Int, 6)
        XCTAssertTrue(processor.collections["items"]!.isDirty)
    }

    func testCosineRefusesZeroVectorsAndWrongDimensions() {
        let zero = ServerFixtures.vectorJSON([Float](repeating: 0, count: 16))
        XCTAssertEqual(errorCode(send(#"{"op":"search","collection":"graph","vector":\#(zero)}"#)), "invalid_vector")
        XCTAssertEqual(errorCode(send(#"{"op":"upsert","collection":"graph","points":[{"id":1,"vector":\#(zero)}]}"#)), "invalid_vector")
        XCTAssertEqual(errorCode(send(#"{"op":"search","collection":"graph","vector":[1,2,3]}"#)), "dimension_mismatch")
        XCTAssertEqual(errorCode(send(#"{"op":"search_batch","collection":"graph","vectors":[[1,2,3]]}"#)), "dimension_mismatch")
        XCTAssertEqual(errorCode(send(#"{"op":"search","collection":"nope","vector":[1,2,3]}"#)), "unknown_collection")
        XCTAssertEqual(errorCode(send(#"{"op":"recommend","collection":"graph","user_id":1}"#)), "unsupported")
        XCTAssertEqual(processor.collections["graph"]!.count, 2_000)
    }

    func testSearchBatchMatchesSingleSearches() {
        let rows = [3, 500, 1234].map { ServerFixtures.vectorJSON(base.rowArray($0)) }
        let batch = result(send(#"{"op":"search_batch","collection":"graph","vectors":[\#(rows.joined(separator: ","))],"k":5}"#))
        let lists = (batch["results"] as! [[[String: Any]]]).map { $0.map { ($0["id"] as! NSNumber).uint64Value } }
        for (i, row) in rows.enumerated() {
            XCTAssertEqual(lists[i], hitIds(send(#"{"op":"search","collection":"graph","vector":\#(row),"k":5}"#)))
        }
    }

    func testSaveWritesIndexAndPayloadsThatReload() throws {
        _ = send(#"{"op":"upsert","collection":"items","points":[{"id":10,"vector":[0,0,0,2],"payload":{"title":"Brazil \"85\""}}]}"#)
        let saved = result(send(#"{"op":"save","collection":"items"}"#))
        XCTAssertEqual(saved["saved"] as? [String], ["items"])
        XCTAssertFalse(processor.collections["items"]!.isDirty)
        let reloaded = try ServedCollection(ServedCollection.Description(name: "items", indexPath: dir.file("items.idx")))
        XCTAssertEqual(reloaded.count, 7)
        let again = try RequestProcessor(collections: [reloaded])
        let got = result(again.handle(#"{"op":"get","collection":"items","ids":[10]}"#, session: again.makeSession()))
        XCTAssertEqual(((got["points"] as! [[String: Any]])[0]["payload"] as? [String: Any])?["title"] as? String, "Brazil \"85\"")
        XCTAssertEqual(result(send(#"{"op":"save"}"#))["saved"] as? [String], ["items", "graph"])
    }

    func testSaveFailureIsAnIOErrorAndKeepsChanges() throws {
        _ = send(#"{"op":"delete","collection":"items","ids":[1]}"#)
        try FileManager.default.removeItem(atPath: dir.path)
        XCTAssertEqual(errorCode(send(#"{"op":"save","collection":"items"}"#)), "io_error")
        XCTAssertTrue(processor.collections["items"]!.isDirty)
        XCTAssertEqual(processor.collections["items"]!.count, 5)
    }

    func testInfoAndStats() {
        let info = result(send(#"{"op":"info"}"#))
        let collections = info["collections"] as! [[String: Any]]
        XCTAssertEqual(collections.map { $0["name"] as! String }, ["items", "graph"])
        XCTAssertEqual(collections[1]["kind"] as? String, "hnsw")
        XCTAssertEqual(collections[1]["metric"] as? String, "cosine")
        XCTAssertEqual(collections[1]["dimension"] as? Int, 16)
        XCTAssertEqual(collections[0]["payloads"] as? Int, 6)
        _ = send(#"{"op":"search","collection":"items","vector":[1,0,0,0]}"#)
        _ = send(#"{"op":"bogus"}"#)
        let stats = result(send(#"{"op":"stats"}"#))
        let ops = stats["ops"] as! [String: [String: Any]]
        XCTAssertEqual(ops["search"]?["count"] as? Int, 1)
        XCTAssertEqual(ops["invalid"]?["errors"] as? Int, 1)
        XCTAssertNotNil(ops["search"]?["p99_us"])
        XCTAssertEqual((stats["errors"] as! [String: Int])["unknown_op"], 1)
        XCTAssertGreaterThan((stats["memory"] as! [String: Int])["resident_bytes"]!, 0)
    }

    func testAuthentication() throws {
        let guarded = try RequestProcessor(collections: [processor.collections["items"]!], authToken: "s3cret")
        let s = guarded.makeSession()
        XCTAssertEqual(errorCode(guarded.handle(#"{"op":"ping"}"#, session: s)), "unauthorized")
        XCTAssertEqual(errorCode(guarded.handle(#"{"op":"auth","token":"s3creT"}"#, session: s)), "unauthorized")
        XCTAssertEqual(errorCode(guarded.handle(#"{"op":"auth","token":"s3cret "}"#, session: s)), "unauthorized")
        XCTAssertEqual(json(guarded.handle(#"{"op":"auth","token":"s3cret"}"#, session: s))["ok"] as? Bool, true)
        XCTAssertEqual(json(guarded.handle(#"{"op":"ping"}"#, session: s))["ok"] as? Bool, true)
        XCTAssertTrue(RequestProcessor.constantTimeEqual(Array("abc".utf8), Array("abc".utf8)))
        XCTAssertFalse(RequestProcessor.constantTimeEqual(Array("abc".utf8), Array("abd".utf8)))
        XCTAssertFalse(RequestProcessor.constantTimeEqual(Array("abc".utf8), Array("abcd".utf8)))
        XCTAssertFalse(RequestProcessor.constantTimeEqual([], Array("a".utf8)))
    }

    func testPrometheusText() {
        _ = send(#"{"op":"ping"}"#)
        let text = PrometheusFormat.render(processor)
        XCTAssertTrue(text.contains("# TYPE shortlist_requests_total counter"))
        XCTAssertTrue(text.contains(#"shortlist_requests_total{op="ping"} 1"#))
        XCTAssertTrue(text.contains("# TYPE shortlist_request_duration_seconds histogram"))
        XCTAssertTrue(text.contains(#"shortlist_request_duration_seconds_bucket{op="ping",le="+Inf"} 1"#), text)
        XCTAssertFalse(text.contains("quantile="), "whole-uptime quantiles are not served")
        XCTAssertTrue(text.contains("# TYPE process_cpu_seconds_total counter"))
        XCTAssertTrue(text.contains(#"shortlist_collection_vectors{collection="graph"} 2000"#))
        // Every sample line is `name{labels} value` or `name value`.
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            XCTAssertNotNil(line.range(of: #"^[a-z_]+(\{[^}]*\})? -?[0-9.e+-]+$"#, options: .regularExpression), String(line))
        }
    }
}

final class RecommendTests: XCTestCase {
    func testRecommendThroughTheUserTower() throws {
        let dir = TemporaryDirectory()
        let movies = try ServerFixtures.writeRecommenderCollection(in: dir)
        // The server reads only the model folder: the training data may be gone.
        try FileManager.default.removeItem(atPath: dir.file("movies-interactions.txt"))
        let processor = try RequestProcessor(collections: [try ServedCollection(movies)])
        let s = processor.makeSession()
        let all = hitIds(processor.handle(#"{"op":"recommend","collection":"movies","user_id":5,"k":40}"#, session: s))
        XCTAssertEqual(all.count, 40)
        // User 5 likes group 1: those items rank first.
        XCTAssertGreaterThanOrEqual(all.prefix(10).filter { $0 % 4 == 1 }.count, 8, "\(all)")
        let seen = try processor.collections["movies"]!.recommender!.seenItems(5)
        XCTAssertFalse(seen.isEmpty)
        let fresh = hitIds(processor.handle(#"{"op":"recommend","collection":"movies","user_id":5,"k":10,"exclude_seen":true}"#, session: s))
        XCTAssertEqual(fresh.count, 10)
        XCTAssertTrue(Set(fresh).isDisjoint(with: seen))
        XCTAssertEqual(errorCode(processor.handle(#"{"op":"recommend","collection":"movies","user_id":4000}"#, session: s)), "not_found")
        // The model must fit the index.
        var wrong = movies
        wrong.indexPath = try ServerFixtures.writeDocumentCollection(in: dir).indexPath
        XCTAssertThrowsError(try ServedCollection(wrong))
    }
}

final class TargetRecallTests: XCTestCase {
    func testTargetRecallUsesTheTunedTable() throws {
        let dir = TemporaryDirectory()
        let (graph, base) = try ServerFixtures.writeGraphCollection(in: dir)
        let items = try ServerFixtures.writeDocumentCollection(in: dir)
        try TuningTable(k: 10, entries: [
            .init(parameters: SearchParameters(ef: 12), recall: 0.9, microseconds: 10),
            .init(parameters: SearchParameters(ef: 40), recall: 0.99, microseconds: 30),
        ]).store(inIndexAt: graph.indexPath)
        let graphCollection = try ServedCollection(graph)
        let processor = try RequestProcessor(collections: [graphCollection, try ServedCollection(items)])
        let s = processor.makeSession()
        XCTAssertEqual(try graphCollection.searchParameters(SearchParameters(), targetRecall: 0.95), SearchParameters(ef: 40))
        let q = ServerFixtures.vectorJSON(base.rowArray(3))
        XCTAssertEqual(hitIds(processor.handle(#"{"op":"search","collection":"graph","vector":\#(q),"k":3,"params":{"target_recall":0.95}}"#, session: s)).count, 3)
        XCTAssertEqual(errorCode(processor.handle(#"{"op":"search","collection":"graph","vector":\#(q),"params":{"target_recall":0.999}}"#, session: s)), "invalid_parameter")
        XCTAssertEqual(errorCode(processor.handle(#"{"op":"search","collection":"graph","vector":\#(q),"params":{"target_recall":0.9,"ef":20}}"#, session: s)), "invalid_request")
        XCTAssertEqual(errorCode(processor.handle(#"{"op":"search","collection":"graph","vector":\#(q),"params":{"target_recall":1.5}}"#, session: s)), "invalid_parameter")
        XCTAssertEqual(errorCode(processor.handle(#"{"op":"search","collection":"items","vector":[1,0,0,0],"params":{"target_recall":0.9}}"#, session: s)), "unsupported")
        let info = result(processor.handle(#"{"op":"info"}"#, session: s))["collections"] as! [[String: Any]]
        XCTAssertEqual(info.map { $0["tuned"] as? Bool }, [true, false])
        // A save keeps the table in the file.
        _ = processor.handle(#"{"op":"upsert","collection":"graph","points":[{"id":5000,"vector":\#(q)}]}"#, session: s)
        try graphCollection.save()
        XCTAssertEqual(try TuningTable.read(indexAt: graph.indexPath)?.entries.count, 2)
    }

    /// The dispatcher: constant-work ops in short lines are answered on the event loop; searches,
    /// and any line too long to parse there (a ping padded with a megabyte), go to a worker.
    func testTheDispatcherKeepsLongLinesOffTheEventLoop() throws {
        let dir = TemporaryDirectory()
        let processor = try RequestProcessor(collections: [try ServedCollection(try ServerFixtures.writeDocumentCollection(in: dir))])
        let session = processor.makeSession()
        func send(_ line: String) -> String { processor.handle(line, session: session) }
        func route(_ text: String) -> RequestProcessor.Route {
            Array(text.utf8).withUnsafeBufferPointer { processor.route($0, session: session) }
        }
        guard case .reply = route(#"{"op":"ping","id":1}"#) else { return XCTFail("a short ping went to a worker") }
        guard case .work = route(#"{"op":"search","collection":"items","vector":[1,0,0,0]}"#) else { return XCTFail("a search ran on the loop") }
        let padded = #"{"op":"ping","id":7,"pad":""# + String(repeating: "x", count: 1 << 20) + #""}"#
        guard case let .work(_, _, envelope) = route(padded) else { return XCTFail("a 1 MiB ping was parsed on the event loop") }
        XCTAssertEqual(envelope.op, .ping)
        XCTAssertEqual(envelope.id, Array("7".utf8))
        // The worker parses it and answers with the id.
        XCTAssertEqual(errorCode(send(padded)), "unknown_field")
        XCTAssertTrue(send(padded).hasPrefix(#"{"id":7,"#))
        let longAuth = #"{"op":"auth","token":""# + String(repeating: "t", count: 2_000) + #""}"#
        XCTAssertEqual(errorCode(send(longAuth)), "invalid_request")
    }
}
