import Foundation
import Synchronization
import ShortlistCore
import ShortlistIndex
import ShortlistTestSupport
import XCTest
#if canImport(Glibc)
import Glibc
#endif
@testable import ShortlistServer
import ShortlistClient
import ShortlistProtocol

/// One client must not take the server down: backpressure, reply bounds, deadlines, work for
/// vanished clients, and the order of one connection's requests. Over real loopback sockets.
final class ServerLimitsTests: XCTestCase {
    /// Gives `client` a send timeout, so a writer blocked by a server that stopped reading returns.
    private func sendTimeout(_ client: LineClient, seconds: Int) {
        var tv = timeval(tv_sec: seconds, tv_usec: 0)
        setsockopt(client.descriptor, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    }

    private func stats(_ server: RunningServer) throws -> [String: Any] {
        result(try server.client().request(#"{"op":"stats"}"#))
    }

    private func answered(_ stats: [String: Any], _ op: String) -> Int {
        ((stats["ops"] as? [String: Any])?[op] as? [String: Any])?["count"] as? Int ?? 0
    }

    func testAClientThatNeverReadsStopsBeingRead() throws {
        let dir = TemporaryDirectory()
        let (d, base) = try ServerFixtures.writeGraphCollection(in: dir, count: 2_000)
        let server = try RunningServer([d]) {
            $0.limits.outputPauseBytes = 256 << 10
            $0.limits.maximumInFlightPerConnection = 64
            // Only the pause is tested here (the hard bound would end the connection).
            $0.limits.maximumOutputBytes = 1 << 30
        }
        // ~60 KB replies (k 2,000), sent at a steady pace and never read: without backpressure
        // the server keeps reading, searching and holding replies for as long as lines come.
        let hostile = try server.client()
        sendTimeout(hostile, seconds: 1)
        let line = #"{"op":"search","collection":"graph","k":2000,"vector":\#(ServerFixtures.vectorJSON(base.rowArray(1)))}"# + "\n"
        let chunk = Array(String(repeating: line, count: 100).utf8)
        let sent = Mutex(0)
        let writer = Thread {
            let until = Date().addingTimeInterval(4)
            while Date() < until {
                guard (try? hostile.send(chunk)) != nil else { return }
                sent.withLock { $0 += 100 }
                usleep(5_000)
            }
        }
        writer.start()
        sleep(3)
        // Meanwhile a client that reads gets its answers.
        let polite = try server.client()
        for _ in 0..<20 { XCTAssertEqual(hitIds(try polite.request(#"{"op":"search","collection":"graph","k":5,"vector":\#(ServerFixtures.vectorJSON(base.rowArray(9)))}"#)).count, 5) }
        // Every line the server reads gets a reply: a search's, or `overloaded` past the in-flight limit.
        func linesRead() throws -> (read: Int, searched: Int) {
            let s = try stats(server)
            let searched = answered(s, "search") - 20
            return (searched + ((s["errors"] as? [String: Any])?["overloaded"] as? Int ?? 0), searched)
        }
        let (read, searched) = try linesRead()
        sleep(1)
        let (readLater, _) = try linesRead()
        let total = sent.withLock { $0 }
        // Paused: the searches in flight finished and no more lines were read, though they kept coming.
        XCTAssertLessThan(read, total / 2, "the server kept reading requests whose replies nobody reads")
        XCTAssertEqual(readLater, read, "the server kept reading while the client did not")
        XCTAssertLessThan(searched, 1_000)
        XCTAssertGreaterThan(searched, 10)
        print("backpressure: the server read \(read) of the \(total) lines a client sent without reading replies (\(searched) searches run, the rest refused as overloaded); none in the next second")
    }

    func testUnsentRepliesPastTheHardBoundCloseTheConnection() throws {
        let dir = TemporaryDirectory()
        let (d, base) = try ServerFixtures.writeGraphCollection(in: dir, count: 2_000)
        // The soft bounds (pause reading, answer queued reads `overloaded`) are set out of the
        // way, so the hard bound is what is tested.
        let server = try RunningServer([d]) {
            $0.limits.outputPauseBytes = 1 << 30
            $0.limits.maximumOutputBytes = 4 << 20
        }
        let hostile = try server.client(timeout: 5)
        sendTimeout(hostile, seconds: 2)
        // Shrink the client's receive buffer so the server's unsent bytes pile up in the server.
        var small: Int32 = 4096
        setsockopt(hostile.descriptor, SOL_SOCKET, SO_RCVBUF, &small, socklen_t(MemoryLayout<Int32>.size))
        // One pipelined burst of 600 × ~30 KB replies: far past 4 MiB once they are all in flight.
        let line = #"{"op":"search","collection":"graph","k":1000,"vector":\#(ServerFixtures.vectorJSON(base.rowArray(1)))}"# + "\n"
        try? hostile.send(Array(String(repeating: line, count: 600).utf8))
        let deadline = Date().addingTimeInterval(20)
        var closed = false
        while Date() < deadline && !closed {
            sleep(1)
            let errors = try stats(server)["errors"] as? [String: Any] ?? [:]
            closed = (errors["limit_exceeded"] as? Int ?? 0) > 0
        }
        XCTAssertTrue(closed, "the connection was not closed past max_output_bytes")
        // Only the connection asking for stats is left.
        XCTAssertEqual((try stats(server)["connections"] as? [String: Any])?["open"] as? Int, 1)
    }

    func testRepliesAreBoundedBeforeTheyAreBuilt() throws {
        let dir = TemporaryDirectory()
        var limits = ServerLimits()
        limits.maximumReplyBytes = 300
        let processor = try RequestProcessor(collections: [try ServedCollection(try ServerFixtures.writeDocumentCollection(in: dir))], limits: limits)
        let s = processor.makeSession()
        let batch = (0..<11).map { _ in "[1,0,0,0]" }.joined(separator: ",")
        let big = processor.handle(#"{"op":"search_batch","collection":"items","k":10000,"vectors":[\#(batch)]}"#, session: s)
        XCTAssertEqual(errorCode(big), "limit_exceeded", big)
        let payloads = processor.handle(#"{"op":"search","collection":"items","vector":[1,0,0,0],"k":6,"with_payload":true}"#, session: s)
        XCTAssertEqual(errorCode(payloads), "limit_exceeded", payloads)
        XCTAssertTrue(payloads.contains("max_reply_bytes"))
        let got = processor.handle(#"{"op":"get","collection":"items","ids":[1,2,3,4,5,6]}"#, session: s)
        XCTAssertEqual(errorCode(got), "limit_exceeded", got)
        // Within the bound, the same requests are answered.
        XCTAssertEqual(hitIds(processor.handle(#"{"op":"search","collection":"items","vector":[1,0,0,0],"k":2}"#, session: s)), [1, 2])
    }

    func testAuthDeadlineAndUnauthenticatedConnectionsGiveWay() throws {
        let dir = TemporaryDirectory()
        let server = try RunningServer([try ServerFixtures.writeDocumentCollection(in: dir)]) {
            $0.authToken = "s3cret"
            $0.limits.authTimeoutSeconds = 1
            $0.limits.maximumUnauthenticatedConnections = 3
        }
        // A silent connection is told and closed after the deadline.
        let silent = try server.client(timeout: 5)
        let started = Date()
        let told = String(decoding: try silent.readLine() ?? [], as: UTF8.self)
        XCTAssertEqual(errorCode(told), "unauthorized", told)
        XCTAssertTrue(told.contains("not authenticated within 1 s"), told)
        XCTAssertLessThan(Date().timeIntervalSince(started), 4)
        XCTAssertNil(try? silent.readLine().flatMap { $0 }, "closed")

        // Three silent sockets hold every unauthenticated slot; a client with the token still
        // gets in, and the oldest silent socket is the one closed.
        let squatters = try (0..<3).map { _ in try server.client(timeout: 5) }
        usleep(100_000)
        let good = try server.client()
        XCTAssertEqual(result(try good.request(#"{"op":"auth","token":"s3cret"}"#))["authenticated"] as? Bool, true)
        XCTAssertEqual(result(try good.request(#"{"op":"ping"}"#))["pong"] as? Bool, true)
        let evicted = String(decoding: try squatters[0].readLine() ?? [], as: UTF8.self)
        XCTAssertEqual(errorCode(evicted), "too_many_connections", evicted)
    }

    func testALineTricklingInPastItsDeadlineClosesTheConnection() throws {
        let dir = TemporaryDirectory()
        let server = try RunningServer([try ServerFixtures.writeDocumentCollection(in: dir)]) {
            $0.limits.lineTimeoutSeconds = 1
            $0.limits.idleTimeoutSeconds = 60
        }
        let slow = try server.client(timeout: 5)
        // A byte every 200 ms: the idle timer never fires, the line deadline does.
        let started = Date()
        var reply = ""
        for byte in Array(#"{"op":"ping","id":"#.utf8) + Array(repeating: UInt8(ascii: " "), count: 40) {
            guard (try? slow.send([byte])) != nil else { break }
            usleep(200_000)
            if Date().timeIntervalSince(started) > 1.5 { break }
        }
        reply = String(decoding: (try? slow.readLine()).flatMap { $0 } ?? [], as: UTF8.self)
        XCTAssertEqual(errorCode(reply), "idle_timeout", reply)
        XCTAssertTrue(reply.contains("took longer than 1 s"), reply)
        // Whole lines, however slow the pauses between them, are fine.
        let patient = try server.client()
        for _ in 0..<3 {
            XCTAssertEqual(result(try patient.request(#"{"op":"ping"}"#))["pong"] as? Bool, true)
            usleep(600_000)
        }
    }

    func testQueuedSearchesOfAClosedConnectionAreDropped() throws {
        let dir = TemporaryDirectory()
        let (d, base) = try ServerFixtures.writeGraphCollection(in: dir, count: 2_000)
        let server = try RunningServer([d])
        let line = #"{"op":"search","collection":"graph","k":100,"params":{"ef":2000},"vector":\#(ServerFixtures.vectorJSON(base.rowArray(1)))}"# + "\n"
        do {
            let gone = try server.client()
            try gone.send(Array(String(repeating: line, count: 1_000).utf8))
            usleep(50_000)
        }
        // The client is gone; wait for the queue to drain.
        let deadline = Date().addingTimeInterval(30)
        var s = try stats(server)
        while (s["pending"] as? Int ?? 1) > 0 && Date() < deadline {
            usleep(50_000)
            s = try stats(server)
        }
        let dropped = (s["connections"] as! [String: Any])["dropped_requests"] as! Int
        XCTAssertGreaterThan(dropped, 0)
        XCTAssertLessThan(answered(s, "search"), 1_000)
        print("vanished client: \(dropped) of 1,000 queued searches dropped, \(answered(s, "search")) run")
    }

    func testAConnectionsReadsSeeItsEarlierWrites() throws {
        let dir = TemporaryDirectory()
        let (d, base) = try ServerFixtures.writeGraphCollection(in: dir, count: 500)
        let server = try RunningServer([d], durability: .always)
        let c = try server.client()
        var missed = 0, stale = 0
        for round in 0..<150 {
            let id = 10_000 + round
            let v1 = ServerFixtures.vectorJSON(base.rowArray(round % 100)), v2 = ServerFixtures.vectorJSON(base.rowArray(round % 100 + 100))
            // Pipelined in one send: upsert, upsert again (another vector), get, search.
            let lines = [
                #"{"id":1,"op":"upsert","collection":"graph","points":[{"id":\#(id),"vector":\#(v1)}]}"#,
                #"{"id":2,"op":"upsert","collection":"graph","points":[{"id":\#(id),"vector":\#(v2)}]}"#,
                #"{"id":3,"op":"get","collection":"graph","ids":[\#(id)]}"#,
                #"{"id":4,"op":"delete","collection":"graph","ids":[\#(id)]}"#,
                #"{"id":5,"op":"get","collection":"graph","ids":[\#(id)]}"#,
            ]
            try c.send(Array((lines.joined(separator: "\n") + "\n").utf8))
            var replies: [Int: [String: Any]] = [:]
            for _ in 0..<5 {
                let o = json(String(decoding: try c.readLine() ?? [], as: UTF8.self))
                replies[o["id"] as? Int ?? 0] = o
            }
            let first = (replies[3]?["result"] as? [String: Any])?["points"] as? [[String: Any]] ?? []
            if first.isEmpty { missed += 1 } else {
                let got = (first[0]["vector"] as! [NSNumber]).map(\.floatValue)
                let want = base.rowArray(round % 100 + 100)
                let norm = sqrt(want.reduce(0) { $0 + $1 * $1 })
                if zip(got, want).contains(where: { abs($0 - $1 / norm) > 1e-4 }) { stale += 1 }
            }
            let after = (replies[5]?["result"] as? [String: Any])?["points"] as? [[String: Any]] ?? [[:]]
            if !after.isEmpty { missed += 1 }

        }
        XCTAssertEqual(missed, 0, "a get missed the upsert sent before it, or saw the delete sent after it, on the same connection")
        XCTAssertEqual(stale, 0, "a get saw the first of two pipelined upserts of one id")
    }
}
