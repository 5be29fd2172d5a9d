import Foundation
import ShortlistCore
import ShortlistIndex
import ShortlistTestSupport
import XCTest
@testable import ShortlistServer
import ShortlistClient
import ShortlistProtocol

/// The server over real loopback sockets.
final class ServerLoopbackTests: XCTestCase {
    private var dir: TemporaryDirectory!
    private var items: ServedCollection.Description!
    private var graph: ServedCollection.Description!
    private var base: VectorMatrix!

    override func setUpWithError() throws {
        dir = TemporaryDirectory()
        items = try ServerFixtures.writeDocumentCollection(in: dir)
        (graph, base) = try ServerFixtures.writeGraphCollection(in: dir)
    }

    func testEveryOpOverTheSocket() throws {
        let running = try RunningServer([items, graph])
        let c = try running.client()
        XCTAssertEqual(result(try c.request(#"{"id":1,"op":"ping"}"#))["pong"] as? Bool, true)
        XCTAssertEqual((result(try c.request(#"{"op":"info"}"#))["collections"] as! [Any]).count, 2)
        XCTAssertEqual(hitIds(try c.request(#"{"op":"search","collection":"items","vector":[0,1,0,0],"k":2}"#)), [3, 4])
        let q = ServerFixtures.vectorJSON(base.rowArray(7))
        XCTAssertEqual(hitIds(try c.request(#"{"op":"search","collection":"graph","vector":\#(q),"k":1}"#)), [7])
        XCTAssertEqual((result(try c.request(#"{"op":"search_batch","collection":"items","vectors":[[1,0,0,0],[0,0,1,0]],"k":1}"#))["results"] as! [[Any]]).count, 2)
        XCTAssertEqual(hitIds(try c.request(#"{"op":"similar","collection":"items","item_id":3,"k":1}"#)), [4])
        XCTAssertEqual(result(try c.request(#"{"op":"upsert","collection":"items","points":[{"id":20,"vector":[0,0,0,5]}]}"#))["count"] as? Int, 7)
        XCTAssertEqual((result(try c.request(#"{"op":"get","collection":"items","ids":[20]}"#))["points"] as! [Any]).count, 1)
        XCTAssertEqual(result(try c.request(#"{"op":"delete","collection":"items","ids":[20]}"#))["deleted"] as? Int, 1)
        XCTAssertEqual(result(try c.request(#"{"op":"save","collection":"items"}"#))["saved"] as? [String], ["items"])
        XCTAssertNotNil(result(try c.request(#"{"op":"stats"}"#))["ops"])
        XCTAssertEqual(result(try c.request(#"{"op":"auth","token":"anything"}"#))["authenticated"] as? Bool, true)
        XCTAssertEqual(errorCode(try c.request(#"{"op":"recommend","collection":"items","user_id":1}"#)), "unsupported")
    }

    func testPipelinedRequestsAllComeBackWithTheirIds() throws {
        let running = try RunningServer([graph])
        let c = try running.client()
        var text = ""
        for i in 0..<300 {
            text += i % 3 == 0 ? #"{"id":\#(i),"op":"ping"}"# + "\n"
                : #"{"id":\#(i),"op":"search","collection":"graph","vector":\#(ServerFixtures.vectorJSON(base.rowArray(i))),"k":3,"params":{"ef":128}}"# + "\n"
        }
        try c.send(Array(text.utf8))
        var seen = Set<Int>()
        for _ in 0..<300 {
            let line = String(decoding: try XCTUnwrap(try c.readLine()), as: UTF8.self)
            let o = json(line)
            let id = o["id"] as! Int
            XCTAssertEqual(o["ok"] as? Bool, true, line)
            // The graph is approximate: the query's own row is among its 3 nearest.
            if id % 3 != 0 { XCTAssertTrue(hitIds(line).contains(UInt64(id)), line) }
            seen.insert(id)
        }
        XCTAssertEqual(seen, Set(0..<300))
    }

    /// Base64 vectors give the same answers as decimal ones, pipelined and one at a time, with
    /// the event loop busy-polling between requests.
    func testBase64VectorsAndABusyPollingEventLoop() throws {
        let running = try RunningServer([graph]) { $0.loopSpinMicroseconds = 300 }
        let c = try running.client()
        func line(_ row: Int, base64: Bool) -> String {
            let v = base64 ? "\"" + Base64Vector.encode(base.rowArray(row)) + "\"" : ServerFixtures.vectorJSON(base.rowArray(row))
            return #"{"id":\#(row * 2 + (base64 ? 1 : 0)),"op":"search","collection":"graph","vector":\#(v),"k":5,"params":{"ef":64}}"#
        }
        var text = ""
        for row in 0..<100 { text += line(row, base64: false) + "\n" + line(row, base64: true) + "\n" }
        try c.send(Array(text.utf8))
        var hits: [Int: [[String: NSNumber]]] = [:]
        for _ in 0..<200 {
            let o = json(String(decoding: try XCTUnwrap(try c.readLine()), as: UTF8.self))
            hits[o["id"] as! Int] = (o["result"] as! [String: Any])["hits"] as? [[String: NSNumber]]
        }
        for row in 0..<100 {
            // Decimal text from Float's description reads back to the same floats: identical hits and scores.
            XCTAssertEqual(hits[row * 2], hits[row * 2 + 1], "row \(row)")
            XCTAssertEqual(hits[row * 2]?.first?["id"]?.intValue, row)
        }
        // One request at a time, alternating with pings, across the loop's spinning and sleeping.
        for row in 0..<60 {
            XCTAssertEqual(hitIds(try c.request(line(row, base64: row % 2 == 0))).first, UInt64(row))
            XCTAssertEqual(result(try c.request(#"{"op":"ping"}"#))["pong"] as? Bool, true)
            if row % 20 == 0 { usleep(1_000) }
        }
    }

    /// Plain searches on flat and IVF collections that a worker takes together run as one batch
    /// search: pipelined, each gets the same hits as when it runs alone, and a bad vector among
    /// them gets its own error while its neighbours in the queue are answered.
    func testMicroBatchedSearchesMatchSingleOnes() throws {
        for spec in ["Flat", "IVF16,PQ8,Refine"] {
            let path = dir.file("batched-\(spec.prefix(4)).idx")
            try IndexSpec(parsing: spec).build(metric: .cosine, vectors: base, threads: 1, seed: 5).save(to: path)
            let description = ServedCollection.Description(name: "b", indexPath: path)
            func line(_ row: Int, k: Int = 5) -> String {
                #"{"id":\#(row),"op":"search","collection":"b","vector":\#(ServerFixtures.vectorJSON(base.rowArray(row))),"k":\#(k),"params":{"nprobe":16}}"#
            }
            // One at a time, micro-batching off: the reference.
            let plain = try RunningServer([description]) { $0.microBatching = false }
            let single = try plain.client()
            var expected: [Int: [UInt64]] = [:]
            for row in 0..<120 { expected[row] = hitIds(try single.request(line(row))) }
            // Pipelined, with micro-batching, plus bad vectors and another k among them.
            let batched = try RunningServer([description])
            let c = try batched.client()
            var text = ""
            for row in 0..<120 {
                text += line(row) + "\n"
                if row % 40 == 7 { text += #"{"id":"short\#(row)","op":"search","collection":"b","vector":[1,2,3]}"# + "\n" }
                if row % 40 == 9 { text += line(row, k: 2).replacingOccurrences(of: #""id":\#(row)"#, with: #""id":"k2-\#(row)""#) + "\n" }
            }
            try c.send(Array(text.utf8))
            var seen = 0
            for _ in 0..<(120 + 3 + 3) {
                let reply = String(decoding: try XCTUnwrap(try c.readLine()), as: UTF8.self)
                let o = json(reply)
                if let row = o["id"] as? Int {
                    XCTAssertEqual(hitIds(reply), expected[row], "\(spec) row \(row)")
                    seen += 1
                } else if let id = o["id"] as? String, id.hasPrefix("short") {
                    XCTAssertEqual(errorCode(reply), "dimension_mismatch", reply)
                } else {
                    let row = Int((o["id"] as! String).dropFirst(3))!
                    XCTAssertEqual(hitIds(reply), Array(expected[row]!.prefix(2)), "\(spec) k = 2, row \(row)")
                }
            }
            XCTAssertEqual(seen, 120)
            let ops = result(try c.request(#"{"op":"stats"}"#))["ops"] as! [String: Any]
            XCTAssertEqual((ops["search"] as? [String: Any])?["count"] as? Int, 126, "\(spec): every search counted once")
        }
    }

    func testConcurrentClientsGetCorrectAnswers() throws {
        let running = try RunningServer([graph])
        let failures = Mutex_([String]())
        DispatchQueue.concurrentPerform(iterations: 6) { t in
            do {
                let c = try running.client()
                for i in 0..<80 {
                    let row = (t * 300 + i * 7) % 2_000
                    let reply = try c.request(#"{"op":"search","collection":"graph","vector":\#(ServerFixtures.vectorJSON(base.rowArray(row))),"k":3,"params":{"ef":128}}"#)
                    if !hitIds(reply).contains(UInt64(row)) { failures.append("client \(t): row \(row) → \(reply)") }
                }
            } catch { failures.append("client \(t): \(error)") }
        }
        XCTAssertEqual(failures.value, [])
    }

    func testBadInputGetsItsCodeAndTheConnectionStillAnswers() throws {
        let running = try RunningServer([items]) { $0.limits.maximumBatch = 2; $0.limits.maximumK = 50 }
        let c = try running.client()
        let cases: [(String, String)] = [
            ("{not json", "parse_error"),
            (#"{"op":"search","collection":"items","vector":[1,2]}"#, "dimension_mismatch"),
            (#"{"op":"search","collection":"items","vector":[1,2,3,1e999]}"#, "invalid_vector"),
            (#"{"op":"search","collection":"items","vector":[1,2,3,NaN]}"#, "parse_error"),
            (#"{"op":"teleport"}"#, "unknown_op"),
            (#"{"op":"ping","extra":true}"#, "unknown_field"),
            (#"{"op":"search","collection":"items","vector":"1,2,3,4"}"#, "invalid_vector"),
            (#"{"op":"search","collection":"items","vector":{"x":1}}"#, "invalid_request"),
            (#"{"op":"search","collection":"items","vector":"\#(Base64Vector.encode([1, 2]))"}"#, "dimension_mismatch"),
            (#"{"op":"search","collection":"items","vector":"\#(Base64Vector.encode([1, 2, .nan, 4]))"}"#, "invalid_vector"),
            (#"{"op":"upsert","collection":"items","points":[{"id":1,"vector":"AACAPwAAAD8*"}]}"#, "invalid_vector"),
            (#"{"op":"search","collection":"nowhere","vector":[1,2,3,4]}"#, "unknown_collection"),
            (#"{"op":"search","collection":"items","vector":[1,2,3,4],"k":51}"#, "invalid_parameter"),
            (#"{"op":"search","collection":"items","vector":[1,2,3,4],"k":-3}"#, "invalid_parameter"),
            (#"{"op":"search","collection":"items","vector":[1,2,3,4],"params":{"ef":1000000}}"#, "invalid_parameter"),
            (#"{"op":"search_batch","collection":"items","vectors":[[1,2,3,4],[1,2,3,4],[1,2,3,4]]}"#, "too_large"),
            (#"{"op":"upsert","collection":"items","points":[{"id":1,"vector":[1,2]}]}"#, "dimension_mismatch"),
            (#"{"op":"similar","collection":"items","item_id":404}"#, "not_found"),
        ]
        for (line, code) in cases {
            XCTAssertEqual(errorCode(try c.request(line)), code, line)
            XCTAssertEqual(result(try c.request(#"{"op":"ping"}"#))["pong"] as? Bool, true, "after \(line)")
        }
        // Nothing changed.
        XCTAssertEqual((result(try c.request(#"{"op":"info"}"#))["collections"] as! [[String: Any]])[0]["count"] as? Int, 6)
    }

    func testOverLongLinesAreDiscardedAndTheConnectionRecovers() throws {
        let running = try RunningServer([items]) { $0.limits.maximumLineBytes = 4_096 }
        let c = try running.client()
        // In one write, and streamed in pieces without a newline for a while.
        let long = #"{"op":"search","collection":"items","vector":["# + String(repeating: "1,", count: 5_000) + "1]}\n"
        try c.send(Array(long.utf8) + Array(#"{"id":2,"op":"ping"}"#.utf8) + [0x0A])
        XCTAssertEqual(errorCode(String(decoding: try XCTUnwrap(c.readLine()), as: UTF8.self)), "line_too_long")
        XCTAssertEqual(json(String(decoding: try XCTUnwrap(c.readLine()), as: UTF8.self))["id"] as? Int, 2)
        let bytes = Array(long.utf8)
        for chunk in stride(from: 0, to: bytes.count, by: 1_000) {
            try c.send(Array(bytes[chunk..<min(bytes.count, chunk + 1_000)]))
            usleep(2_000)
        }
        XCTAssertEqual(errorCode(String(decoding: try XCTUnwrap(c.readLine()), as: UTF8.self)), "line_too_long")
        XCTAssertEqual(result(try c.request(#"{"op":"ping"}"#))["pong"] as? Bool, true)
        // A line just under the limit is fine, with CRLF too.
        XCTAssertEqual(hitIds(try c.request(#"{"op":"search","collection":"items","vector":[1,0,0,0],"k":1}"# + "\r")), [1])
    }

    func testConnectionLimitAndIdleTimeout() throws {
        let running = try RunningServer([items]) { $0.limits.maximumConnections = 2; $0.limits.idleTimeoutSeconds = 1 }
        let a = try running.client(), b = try running.client()
        XCTAssertEqual(result(try a.request(#"{"op":"ping"}"#))["pong"] as? Bool, true)
        XCTAssertEqual(result(try b.request(#"{"op":"ping"}"#))["pong"] as? Bool, true)
        let third = try running.client()
        XCTAssertEqual(errorCode(String(decoding: try XCTUnwrap(third.readLine()), as: UTF8.self)), "too_many_connections")
        XCTAssertNil(try third.readLine(), "the refused connection is closed")
        // Silent connections are closed after the idle timeout, with a reason.
        XCTAssertEqual(errorCode(String(decoding: try XCTUnwrap(a.readLine()), as: UTF8.self)), "idle_timeout")
        XCTAssertNil(try a.readLine())
        _ = try? b.readLine()
        usleep(200_000)
        let fresh = try running.client()
        XCTAssertEqual(result(try fresh.request(#"{"op":"ping"}"#))["pong"] as? Bool, true)
    }

    func testAuthOverTheSocketAndInsecureBindsAreRefused() throws {
        let running = try RunningServer([items]) { $0.authToken = "tok" }
        let c = try running.client()
        XCTAssertEqual(errorCode(try c.request(#"{"op":"search","collection":"items","vector":[1,0,0,0]}"#)), "unauthorized")
        XCTAssertEqual(errorCode(try c.request(#"{"op":"auth","token":"nope"}"#)), "unauthorized")
        XCTAssertEqual(result(try c.request(#"{"op":"auth","token":"tok"}"#))["authenticated"] as? Bool, true)
        XCTAssertEqual(hitIds(try c.request(#"{"op":"search","collection":"items","vector":[1,0,0,0],"k":1}"#)), [1])
        // Each connection authenticates for itself.
        XCTAssertEqual(errorCode(try running.client().request(#"{"op":"ping"}"#)), "unauthorized")
        var config = Server.Configuration()
        config.host = "0.0.0.0"
        XCTAssertThrowsError(try Server(collections: [try ServedCollection(items)], configuration: config)) {
            XCTAssertEqual($0 as? ServerError, .insecureBind(host: "0.0.0.0"))
        }
        config.insecure = true
        XCTAssertNoThrow(try Server(collections: [try ServedCollection(items)], configuration: config))
    }

    func testMetricsEndpoint() throws {
        let running = try RunningServer([items]) { $0.metricsPort = 0 }
        _ = try running.client().request(#"{"op":"ping"}"#)
        func get(_ path: String) throws -> [String] {
            let http = try LineClient(host: "127.0.0.1", port: try XCTUnwrap(running.server.metricsPort))
            try http.send(Array("GET \(path) HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".utf8))
            var lines: [String] = []
            while let l = try http.readLine() { lines.append(String(decoding: l, as: UTF8.self)) }
            return lines
        }
        let lines = try get("/metrics")
        XCTAssertEqual(lines.first, "HTTP/1.1 200 OK\r")
        XCTAssertTrue(lines.contains(#"shortlist_requests_total{op="ping"} 1"#), lines.joined(separator: "\n"))
        // Latency as a Prometheus histogram: cumulative buckets, +Inf holding every request.
        XCTAssertTrue(lines.contains("# TYPE shortlist_request_duration_seconds histogram"), lines.joined(separator: "\n"))
        XCTAssertTrue(lines.contains(#"shortlist_request_duration_seconds_bucket{op="ping",le="+Inf"} 1"#), lines.joined(separator: "\n"))
        XCTAssertTrue(lines.contains(#"shortlist_request_duration_seconds_count{op="ping"} 1"#))
        XCTAssertTrue(lines.contains { $0.hasPrefix("process_resident_memory_bytes ") } && lines.contains { $0.hasPrefix("process_cpu_seconds_total ") })
        XCTAssertEqual(try get("/healthz").last, "ok")
        XCTAssertEqual(try get("/readyz").last, "ready")
        XCTAssertEqual(try get("/admin").first, "HTTP/1.1 404 Not Found\r")
        // Once a shutdown begins, the server is alive but no longer ready.
        running.server.processor.shuttingDown.store(true, ordering: .relaxed)
        XCTAssertEqual(try get("/readyz").first, "HTTP/1.1 503 Service Unavailable\r")
        XCTAssertEqual(try get("/healthz").last, "ok")
        running.server.processor.shuttingDown.store(false, ordering: .relaxed)
    }

    func testClientsThatVanishMidRequestLeaveAllOrNothing() throws {
        let running = try RunningServer([items], durability: .always)
        for i in 0..<20 {
            let c = try running.client()
            let id = 100 + i
            // A whole request then a hang-up, or half a request then a hang-up.
            let line = #"{"op":"upsert","collection":"items","points":[{"id":\#(id),"vector":[\#(i),1,1,1]}]}"# + "\n"
            let bytes = Array(line.utf8)
            try c.send(i % 2 == 0 ? bytes : Array(bytes.prefix(bytes.count / 2)))
            c.shutdownWrite()
        }
        usleep(300_000)
        let c = try running.client()
        XCTAssertEqual(result(try c.request(#"{"op":"ping"}"#))["pong"] as? Bool, true)
        let got = result(try c.request(#"{"op":"get","collection":"items","ids":[\#((100..<120).map(String.init).joined(separator: ","))]}"#))
        let points = got["points"] as! [[String: Any]]
        for p in points {
            let id = (p["id"] as! NSNumber).intValue
            XCTAssertEqual(id % 2, 0, "only whole requests are applied")
            XCTAssertEqual((p["vector"] as! [NSNumber]).map(\.floatValue), [Float(id - 100), 1, 1, 1])
        }
        XCTAssertEqual(points.count, 10, "every whole request was applied even though its client left")
    }

    func testHalfCloseGetsEveryReplyAndShutdownSavesChanges() throws {
        let running = try RunningServer([items, graph])
        let c = try running.client()
        var text = #"{"id":0,"op":"upsert","collection":"items","points":[{"id":30,"vector":[1,1,1,1],"payload":{"title":"Ran"}}]}"# + "\n"
        for i in 1...20 { text += #"{"id":\#(i),"op":"search","collection":"graph","vector":\#(ServerFixtures.vectorJSON(base.rowArray(i))),"k":1}"# + "\n" }
        try c.send(Array(text.utf8))
        c.shutdownWrite()
        var replies = 0
        while let line = try c.readLine() {
            XCTAssertEqual(json(String(decoding: line, as: UTF8.self))["ok"] as? Bool, true)
            replies += 1
        }
        XCTAssertEqual(replies, 21)
        XCTAssertEqual(running.server.shutdown(), [])
        let reloaded = try ServedCollection(items)
        XCTAssertEqual(reloaded.count, 7)
        XCTAssertEqual(reloaded.get([30]).first??.payload.map { String(decoding: $0, as: UTF8.self) }, #"{"title":"Ran"}"#)
        XCTAssertThrowsError(try running.client().request(#"{"op":"ping"}"#), "the server no longer listens")
    }
}

/// A lock-protected value for test threads.
final class Mutex_<T>: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: T
    init(_ v: T) { stored = v }
    var value: T { lock.lock(); defer { lock.unlock() }; return stored }
    func append<E>(_ e: E) where T == [E] { lock.lock(); stored.append(e); lock.unlock() }
}
