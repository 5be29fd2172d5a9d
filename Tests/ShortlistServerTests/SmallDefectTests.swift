import Foundation
import ShortlistCore
import ShortlistIndex
import ShortlistTestSupport
import XCTest
@testable import ShortlistServer
import ShortlistClient
import ShortlistProtocol

/// The smaller defects of the trust review: each test fails without its fix.
final class SmallDefectTests: XCTestCase {
    func testRepeatedMembersInsideParamsFilterAndPointsAreRefused() throws {
        let parser = RequestParser(limits: ServerLimits())
        let lines = [
            #"{"op":"search","collection":"c","vector":[1],"params":{"ef":10,"ef":20}}"#,
            #"{"op":"search","collection":"c","vector":[1],"filter":{"exclude_ids":[1],"exclude_ids":[2]}}"#,
            #"{"op":"upsert","collection":"c","points":[{"id":1,"vector":[1],"id":2}]}"#,
        ]
        for line in lines {
            let outcome = Array(line.utf8).withUnsafeBufferPointer { parser.parse($0) }
            guard case let .failure(_, e) = outcome else { return XCTFail("accepted: \(line)") }
            XCTAssertEqual(e.code, .invalidRequest, line)
            XCTAssertTrue(e.message.contains("appears twice"), e.message)
        }
    }

    func testALastLineWithoutNewlineIsAnsweredOnHalfClose() throws {
        let dir = TemporaryDirectory()
        let server = try RunningServer([try ServerFixtures.writeDocumentCollection(in: dir)])
        let c = try server.client()
        try c.send(Array(#"{"id":1,"op":"ping"}"#.utf8) + [0x0A] + Array(#"{"id":2,"op":"search","collection":"items","vector":[1,0,0,0],"k":1}"#.utf8))
        c.shutdownWrite()
        var ids: [Int] = []
        while let line = try c.readLine() { ids.append(json(String(decoding: line, as: UTF8.self))["id"] as? Int ?? -1) }
        XCTAssertEqual(ids.sorted(), [1, 2], "the unterminated last line was dropped")
    }

    func testTooManyConnectionsReachesAClientThatAlreadySentData() throws {
        let dir = TemporaryDirectory()
        let server = try RunningServer([try ServerFixtures.writeDocumentCollection(in: dir)]) { $0.limits.maximumConnections = 1 }
        let first = try server.client()
        XCTAssertEqual(result(try first.request(#"{"op":"ping"}"#))["pong"] as? Bool, true)
        // The refused client is still sending (a large first request, or a pipeline) when the
        // server closes. A plain close then resets the connection: the client's sends fail and
        // the reply is lost. The server reads and drops the rest instead, so the client can
        // finish sending and read why it was refused.
        let chunk = Array(String(repeating: #"{"op":"ping"}"# + "\n", count: 200).utf8)
        var delivered = 0
        for _ in 0..<5 {
            let second = try server.client(timeout: 5)
            // Still sending after the server has answered and closed its side.
            var sent = (try? second.send(chunk)) != nil
            usleep(100_000)
            for _ in 0..<20 where sent {
                sent = (try? second.send(chunk)) != nil
                usleep(5_000)
            }
            second.shutdownWrite()
            if sent, let line = try? second.readLine(), errorCode(String(decoding: line, as: UTF8.self)) == "too_many_connections" { delivered += 1 }
        }
        XCTAssertEqual(delivered, 5)
    }

    func testPayloadFilesWithRepeatedOrUnknownIdsAreRefused() throws {
        let dir = TemporaryDirectory()
        let index = try FlatIndex(metric: .l2, vectors: try VectorMatrix(dimension: 2, values: [0, 0, 1, 1]), ids: [1, 2])
        try index.save(to: dir.file("i.idx"))
        dir.write("twice.jsonl", text: #"{"id":1,"payload":"a"}"# + "\n" + #"{"id":1,"payload":"b"}"# + "\n")
        XCTAssertThrowsError(try ServedCollection(.init(name: "i", indexPath: dir.file("i.idx"), payloadPath: dir.file("twice.jsonl")))) { error in
            XCTAssertTrue("\(error)".contains("line 2: id 1 has a payload on an earlier line already"), "\(error)")
        }
        dir.write("unknown.jsonl", text: #"{"id":1,"payload":"a"}"# + "\n" + #"{"id":99,"payload":"b"}"# + "\n")
        XCTAssertThrowsError(try ServedCollection(.init(name: "i", indexPath: dir.file("i.idx"), payloadPath: dir.file("unknown.jsonl")))) { error in
            XCTAssertTrue("\(error)".contains("payloads for 1 id the index does not hold (such as 99)"), "\(error)")
        }
    }

    func testInspectChecksWhatServeReads() throws {
        let dir = TemporaryDirectory()
        let base = Fixtures.clustered(count: 200, dimension: 4, seed: 81)
        let index = try HNSWIndex(metric: .l2, vectors: base, configuration: HNSWConfiguration(m: 8))
        try index.save(to: dir.file("good.idx"))
        XCTAssertTrue(try CollectionFiles.check(indexPath: dir.file("good.idx")).contains { $0.label == "structure" })
        // Valid checksums, a link out of range: the checksums alone passed it before.
        let contents = try IndexFile.read(path: dir.file("good.idx"))
        var sections: [IndexFile.Section] = []
        for entry in contents.sectionList {
            var bytes = Array(contents.sections[entry.tag]!)
            if entry.tag == "LNK0" { bytes.replaceSubrange(4..<8, with: [0xFF, 0xFF, 0, 0]) }
            sections.append(IndexFile.Section(tag: entry.tag, payload: .bytes(bytes)))
        }
        try IndexFile.write(path: dir.file("bad.idx"), header: contents.header, sections: sections)
        XCTAssertThrowsError(try CollectionFiles.check(indexPath: dir.file("bad.idx")))
        // A damaged log beside a good index: serve would refuse it, so does the check (and the
        // file is left as it was).
        do {
            let log = try WriteAheadLog(path: dir.file("good.idx.wal"), mode: .always)
            for i in 0..<5 { try log.waitUntilDurable(try log.append([.delete(id: UInt64(i))])) }
        }
        var wal = dir.read("good.idx.wal")
        wal[WriteAheadLog.magic.count + 1] ^= 0x08
        dir.write("good.idx.wal", wal)
        XCTAssertThrowsError(try CollectionFiles.check(indexPath: dir.file("good.idx"))) { XCTAssertTrue("\($0)".contains("damaged"), "\($0)") }
        XCTAssertEqual(dir.read("good.idx.wal"), wal)
        XCTAssertThrowsError(try ServedCollection(.init(name: "g", indexPath: dir.file("good.idx")), durability: .always))
    }

    func testMetricsStayOnLoopbackWithoutATokenAndNeedItWithOne() throws {
        let dir = TemporaryDirectory()
        let d = try ServerFixtures.writeDocumentCollection(in: dir)
        let open = try RunningServer([d]) {
            $0.metricsPort = 0
            $0.host = "0.0.0.0"
            $0.insecure = true
        }
        XCTAssertEqual(open.server.metricsAddress, "127.0.0.1", "metrics without a token are served on loopback only")
        let guarded = try RunningServer([d]) {
            $0.metricsPort = 0
            $0.authToken = "tok"
        }
        func get(_ headers: String) throws -> String {
            let http = try LineClient(host: "127.0.0.1", port: try XCTUnwrap(guarded.server.metricsPort))
            try http.send(Array("GET /metrics HTTP/1.1\r\nHost: x\r\n\(headers)\r\n".utf8))
            return String(decoding: try http.readLine() ?? [], as: UTF8.self)
        }
        XCTAssertTrue(try get("").contains("401"))
        XCTAssertTrue(try get("Authorization: Bearer nope\r\n").contains("401"))
        let allowed = try get("Authorization: Bearer tok\r\n")
        XCTAssertTrue(allowed.contains("200"), allowed)
    }
}
