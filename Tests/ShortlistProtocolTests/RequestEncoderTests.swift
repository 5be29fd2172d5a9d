import ShortlistCore
import ShortlistFeatures
import ShortlistIndex
@testable import ShortlistProtocol
import XCTest

/// `RequestEncoder` is the parser's inverse: every request it writes parses back to itself.
final class RequestEncoderTests: XCTestCase {
    private let parser = RequestParser(limits: ServerLimits())

    private func roundTrip(_ line: RequestLine, _ encoding: RequestEncoder.VectorEncoding, file: StaticString = #filePath, line number: UInt = #line) {
        let bytes = RequestEncoder(vectorEncoding: encoding).encode(line)
        XCTAssertEqual(bytes.last, 0x0A, file: file, line: number)
        let text = Array(bytes.dropLast())
        switch text.withUnsafeBufferPointer({ parser.parse($0) }) {
        case let .request(parsed): XCTAssertEqual(parsed, line, String(decoding: text, as: UTF8.self), file: file, line: number)
        case let .failure(_, e): XCTFail("\(String(decoding: text, as: UTF8.self)): \(e)", file: file, line: number)
        }
        // The dispatcher reads op and id without parsing the rest.
        let envelope = text.withUnsafeBufferPointer { RequestParser.envelope($0) }
        XCTAssertEqual(envelope.op, line.request.op, file: file, line: number)
        XCTAssertEqual(envelope.id, line.id, file: file, line: number)
    }

    func testEveryOpRoundTrips() {
        var g = SeededGenerator(seed: 3)
        func vector(_ n: Int) -> [Float] { (0..<n).map { _ in Float.random(in: -2...2, using: &g) } }
        let filter = PayloadFilter.group(
            must: [.match(field: "genre", values: [.string("drama")]), .range(field: "year", gt: nil, gte: 1990, lt: 2000.5, lte: nil)],
            should: [.match(field: "tags", values: [.string("a"), .number(3), .bool(true)]), .isNull(field: "x")],
            mustNot: [.hasId([4, 9]), .group(must: [.isNull(field: "y")], should: [], mustNot: [])])
        let rich = QueryOptions(k: 17, parameters: SearchParameters(ef: 80, nprobe: 12, rerank: 3), targetRecall: 0.95, excludeIds: [1, 2],
                                includeIds: [3, UInt64.max], payloadFilter: filter, withPayload: true,
                                rerank: .init(lambda: 0.25, candidates: 200, groupBy: "genre", maxPerGroup: 2, boosts: ["genre": ["drama": 0.5, "x y": -1]]))
        let requests: [Request] = [
            .ping, .info, .stats, .auth(token: "s\u{e9}cret \"quoted\""),
            .search(.init(collection: "items", vector: vector(33))),
            .search(.init(collection: "ünïcode", vector: vector(8), query: rich)),
            .searchBatch(.init(collection: "c", vectors: vector(12), count: 3, query: QueryOptions(k: 4, excludeIds: [7]))),
            .similar(.init(collection: "c", itemId: 18_446_744_073_709_551_615, query: QueryOptions(rerank: .init(lambda: 1)))),
            .recommend(.init(collection: "m", userId: 4, history: [5, 7], features: ["age": .number(31.5), "tags": .list(["a", "b"]), "seg": .text("x")],
                             context: ["hour": .number(21)], excludeSeen: true, query: rich)),
            .recommend(.init(collection: "m", history: [1])),
            .upsert(collection: "c", points: [Request.Point(id: 1, vector: vector(4), payload: Array(#"{"t":"x","n":[1,2]}"#.utf8)),
                                              Request.Point(id: 2, vector: [], features: ["genre": .text("g1")])]),
            .delete(collection: "c", ids: [1, 2, 3]), .get(collection: "c", ids: [9]), .save(collection: nil), .save(collection: "c"),
            .replicate(.init(collection: "c", term: 7)),
            .replicate(.init(collection: "c", term: 7, position: LogPosition(term: 3, lsn: 99), records: [0, 1, 2, 255])),
            .install(.init(collection: "c", term: 7, part: .payloads, offset: 1 << 20, data: [9, 8, 7])),
            .install(.init(collection: "c", term: UInt64.max, commit: LogPosition(term: 7, lsn: 12))),
        ]
        XCTAssertEqual(Set(requests.map(\.op)), Set(Request.Op.allCases), "every op is round-tripped")
        for encoding in RequestEncoder.VectorEncoding.allCases {
            for (i, r) in requests.enumerated() {
                roundTrip(RequestLine(id: i % 2 == 0 ? Array("\(i)".utf8) : nil, r), encoding)
            }
        }
    }

    func testTheEnvelopeFindsOpAndIdWhereverTheyStand() {
        let lines: [(String, Request.Op, String?)] = [
            (#"{"vector":[1,2,{"x":[3]}],"id":"a","op":"search"}"#, Request.Op.search, #""a""#),
            (#"{"op":"ping"}"#, .ping, nil),
            (#"{"id":[1,{"b":2}],"collection":"c","op":"upsert","points":[]}"#, .upsert, #"[1,{"b":2}]"#),
        ]
        for (text, op, id) in lines {
            let e = Array(text.utf8).withUnsafeBufferPointer { RequestParser.envelope($0) }
            XCTAssertEqual(e.op, op, text)
            XCTAssertEqual(e.id.map { String(decoding: $0, as: UTF8.self) }, id, text)
        }
        XCTAssertNil(Array(#"{"op":"fly"}"#.utf8).withUnsafeBufferPointer { RequestParser.envelope($0) }.op)
        // Once the op is known, the id is looked for only near the start: a long line is not
        // scanned to its end on the event loop.
        let late = "{\"op\":\"search\",\"vector\":[" + Array(repeating: "0.5", count: 1_000).joined(separator: ",") + "],\"id\":9}"
        let e = Array(late.utf8).withUnsafeBufferPointer { RequestParser.envelope($0) }
        XCTAssertEqual(e.op, .search)
        XCTAssertNil(e.id)
        XCTAssertEqual(Array(late.utf8).withUnsafeBufferPointer { RequestParser.envelope($0, idSearchBytes: 1 << 20) }.id, Array("9".utf8))
        XCTAssertNil(Array("not json".utf8).withUnsafeBufferPointer { RequestParser.envelope($0) }.op)
    }
}
