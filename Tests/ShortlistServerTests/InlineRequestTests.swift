import Foundation
import ShortlistCore
import ShortlistIndex
@testable import ShortlistServer
import ShortlistTestSupport
import XCTest

/// Lone cheap reads run on the event loop that read them; everything else still goes to the
/// workers, and answers and order are the same either way.
final class InlineRequestTests: XCTestCase {
    private func inlineCount(_ running: RunningServer) -> Int {
        let text = running.server.processor.stats.registry.emitToString()
        let line = text.split(separator: "\n").first { $0.hasPrefix("shortlist_inline_requests_total ") }
        return line.flatMap { Int($0.split(separator: " ")[1]) } ?? -1
    }

    func testLoneCheapReadsRunInlineAndTheRestOnWorkers() throws {
        let dir = TemporaryDirectory()
        let (graph, base) = try ServerFixtures.writeGraphCollection(in: dir)
        let running = try RunningServer([graph]) { $0.eventLoops = 2 }
        let client = try running.client()
        let query = ServerFixtures.vectorJSON(base.rowArray(7))
        // A short line and a long one (base64 of 16 floats is short; a decimal vector with long
        // numbers passes the 1 KiB parse-on-the-loop limit), each alone on its connection.
        XCTAssertEqual(hitIds(try client.request(#"{"op":"search","collection":"graph","vector":\#(query),"k":3}"#)).first, 7)
        let long = "[" + base.rowArray(7).map { String(format: "%.80f", $0) }.joined(separator: ",") + "]"
        XCTAssertGreaterThan(long.utf8.count, RequestProcessor.inlineParseLimit)
        XCTAssertEqual(hitIds(try client.request(#"{"op":"search","collection":"graph","vector":\#(long),"k":3}"#)).first, 7)
        XCTAssertEqual(hitIds(try client.request(#"{"op":"similar","collection":"graph","item_id":7,"k":3}"#)).count, 3)
        XCTAssertEqual(inlineCount(running), 3)
        // Not inline: a batch, a write, a search with a costly re-ranking stage, a large ef.
        _ = try client.request(#"{"op":"search_batch","collection":"graph","vectors":[\#(query)],"k":3}"#)
        _ = try client.request(#"{"op":"upsert","collection":"graph","points":[{"id":99999,"vector":\#(query)}]}"#)
        _ = try client.request(#"{"op":"search","collection":"graph","vector":\#(query),"k":3,"diversity":{"lambda":0.5}}"#)
        _ = try client.request(#"{"op":"search","collection":"graph","vector":\#(query),"k":3,"params":{"ef":2000}}"#)
        XCTAssertEqual(inlineCount(running), 3)
        // A pipelined burst: the first runs inline, the rest queue for the workers behind it;
        // a write in the middle is still seen by every request after it.
        var burst = ""
        for i in 0..<20 { burst += #"{"id":\#(i),"op":"search","collection":"graph","vector":\#(query),"k":1}"# + "\n" }
        burst += #"{"id":20,"op":"delete","collection":"graph","ids":[7,99999]}"# + "\n"
        for i in 21..<30 { burst += #"{"id":\#(i),"op":"search","collection":"graph","vector":\#(query),"k":1}"# + "\n" }
        try client.send(Array(burst.utf8))
        var firstHit: [Int: UInt64] = [:]
        for _ in 0..<30 {
            let reply = json(String(decoding: try XCTUnwrap(client.readLine()), as: UTF8.self))
            let id = (reply["id"] as! NSNumber).intValue
            if id != 20 { firstHit[id] = ((reply["result"] as? [String: Any])?["hits"] as? [[String: Any]])?.first.map { ($0["id"] as! NSNumber).uint64Value } }
        }
        for i in 0..<20 { XCTAssertTrue(firstHit[i] == 7 || firstHit[i] == 99999, "request \(i) ran before the delete") }
        for i in 21..<30 { XCTAssertTrue(firstHit[i] != 7 && firstHit[i] != 99999, "request \(i) ran after the delete") }
        XCTAssertLessThanOrEqual(inlineCount(running), 5, "a burst mostly goes to the workers")
    }

    func testTurnedOffEverythingGoesToTheWorkers() throws {
        let dir = TemporaryDirectory()
        let (graph, base) = try ServerFixtures.writeGraphCollection(in: dir)
        let running = try RunningServer([graph]) { $0.inlineCheapRequests = false }
        let query = ServerFixtures.vectorJSON(base.rowArray(3))
        XCTAssertEqual(hitIds(try running.client().request(#"{"op":"search","collection":"graph","vector":\#(query),"k":1}"#)), [3])
        XCTAssertEqual(inlineCount(running), 0)
    }

    func testOnlyCheapRequestsQualify() throws {
        let dir = TemporaryDirectory()
        let (graph, _) = try ServerFixtures.writeGraphCollection(in: dir)
        let big = try FlatIndex(metric: .l2, vectors: Fixtures.clustered(count: 20_000, dimension: 4, seed: 5))
        try big.save(to: dir.file("big.idx"))
        let processor = try RequestProcessor(collections: [try ServedCollection(graph), try ServedCollection(.init(name: "big", indexPath: dir.file("big.idx")))],
                                             limits: ServerLimits(), authToken: nil, workerCount: 2)
        func request(_ op: Request.Op, _ collection: String, configure: (inout Request) -> Void = { _ in }) -> Request {
            var r = Request(op: op)
            r.collection = collection
            configure(&r)
            return r
        }
        XCTAssertTrue(processor.runsInline(request(.search, "graph")))
        XCTAssertTrue(processor.runsInline(request(.similar, "graph")))
        XCTAssertFalse(processor.runsInline(request(.search, "big")), "a flat scan of 20,000 rows is not cheap")
        XCTAssertFalse(processor.runsInline(request(.search, "graph") { $0.k = 5_000 }))
        XCTAssertFalse(processor.runsInline(request(.search, "graph") { $0.parameters.ef = 1_000 }))
        XCTAssertFalse(processor.runsInline(request(.search, "graph") { $0.rerank.groupBy = "genre" }))
        XCTAssertFalse(processor.runsInline(request(.searchBatch, "graph")))
        XCTAssertFalse(processor.runsInline(request(.upsert, "graph")))
        XCTAssertTrue(processor.runsInline(request(.get, "graph") { $0.ids = Array(0..<100) }))
        XCTAssertFalse(processor.runsInline(request(.get, "graph") { $0.ids = Array(0..<101) }))
        processor.inlineCheapRequests = false
        XCTAssertFalse(processor.runsInline(request(.search, "graph")))
    }
}
