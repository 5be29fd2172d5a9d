import Foundation
import ShortlistClient
import ShortlistCore
import ShortlistIndex
import ShortlistProtocol
@testable import ShortlistServer
import ShortlistTestSupport
import XCTest

/// The Swift client against a live server on loopback: every op, both vector encodings,
/// filters and re-ranking encoded by `RequestEncoder`, pipelines, typed errors, reconnection
/// and auth, blocking and async.
final class ShortlistClientTests: XCTestCase {
    func testEveryOpRoundTripsInBothEncodings() throws {
        let dir = TemporaryDirectory()
        let (graph, base) = try ServerFixtures.writeGraphCollection(in: dir, count: 500)
        let running = try RunningServer([graph], durability: .always)
        let exact = try FlatIndex(metric: .cosine, vectors: base)
        for encoding in RequestEncoder.VectorEncoding.allCases {
            let client = try ShortlistClient(port: running.port, vectorEncoding: encoding)
            try client.ping()
            let q = base.rowArray(7)
            let result = try client.search(collection: "graph", vector: q, options: QueryOptions(k: 5, parameters: SearchParameters(ef: 200)))
            let truth = try exact.search(q, k: 5)
            XCTAssertEqual(result.hits.map(\.id), truth.map { UInt64($0.id) }, "\(encoding)")
            for (hit, t) in zip(result.hits, truth) { XCTAssertEqual(hit.score, -t.distance, accuracy: 1e-4) }
            let batch = try client.searchBatch(collection: "graph", vectors: [base.rowArray(1), base.rowArray(2)], options: QueryOptions(k: 3))
            XCTAssertEqual(batch.results.map { $0.first?.id }, [1, 2])
            let like = try client.similar(collection: "graph", itemId: 7, options: QueryOptions(k: 4, excludeIds: [UInt64(truth[1].id)]))
            XCTAssertFalse(like.hits.contains { $0.id == 7 || $0.id == UInt64(truth[1].id) })
            let only = try client.search(collection: "graph", vector: q, options: QueryOptions(k: 10, includeIds: [3, 9, 11]))
            XCTAssertEqual(Set(only.hits.map(\.id)), [3, 9, 11])
        }
        let client = try ShortlistClient(port: running.port)
        let v = [Float](repeating: 0.25, count: 16)
        let written = try client.upsert(collection: "graph", points: [Request.Point(id: 9_001, vector: v, payload: Array(#"{"genre":"x","n":3}"#.utf8))])
        XCTAssertEqual(written.changed, 1)
        XCTAssertEqual(written.count, 501)
        let got = try client.get(collection: "graph", ids: [9_001, 123_456])
        XCTAssertEqual(got.points.map(\.id), [9_001])
        XCTAssertEqual(got.points[0].payload.map { String(decoding: $0, as: UTF8.self) }, #"{"genre":"x","n":3}"#)
        XCTAssertEqual(got.notFound, [123_456])
        let filtered = try client.search(collection: "graph", vector: v, options: QueryOptions(
            k: 3, payloadFilter: .group(must: [.match(field: "genre", values: [.string("x")]), .range(field: "n", gt: 2, gte: nil, lt: nil, lte: 3)], should: [], mustNot: []),
            withPayload: true))
        XCTAssertEqual(filtered.hits.map(\.id), [9_001])
        XCTAssertNotNil(filtered.hits.first?.payload)
        let removed = try client.delete(collection: "graph", ids: [9_001, 9_002])
        XCTAssertEqual(removed.changed, 1)
        XCTAssertEqual(removed.notFound, [9_002])
        XCTAssertEqual(removed.count, 500)
        try client.save(collection: "graph")
    }

    func testServerErrorsAreTypedAndTheConnectionStaysUsable() throws {
        let dir = TemporaryDirectory()
        let running = try RunningServer([try ServerFixtures.writeDocumentCollection(in: dir)])
        let client = try ShortlistClient(port: running.port)
        XCTAssertThrowsError(try client.search(collection: "items", vector: [1, 2])) {
            XCTAssertEqual(($0 as? ProtocolError)?.code, .dimensionMismatch)
        }
        XCTAssertThrowsError(try client.search(collection: "nope", vector: [1, 0, 0, 0])) {
            XCTAssertEqual(($0 as? ProtocolError)?.code, .unknownCollection)
        }
        XCTAssertThrowsError(try client.search(collection: "items", vector: [1, .nan, 0, 0])) {
            XCTAssertEqual(($0 as? ProtocolError)?.code, .invalidVector)
        }
        XCTAssertEqual(try client.search(collection: "items", vector: [1, 0, 0, 0], options: QueryOptions(k: 2)).hits.map(\.id), [1, 2])
    }

    func testAPipelineAnswersEveryRequestInOrderAroundAWrite() throws {
        let dir = TemporaryDirectory()
        let running = try RunningServer([try ServerFixtures.writeDocumentCollection(in: dir)])
        let client = try ShortlistClient(port: running.port)
        var requests: [Request] = (0..<100).map { _ in .search(.init(collection: "items", vector: [0, 0, 0, 1], query: QueryOptions(k: 1))) }
        requests.append(.upsert(collection: "items", points: [Request.Point(id: 77, vector: [0, 0, 0, 1])]))
        requests += (0..<100).map { _ in .search(.init(collection: "items", vector: [0, 0, 0, 1], query: QueryOptions(k: 1))) }
        requests.append(.search(.init(collection: "items", vector: [1], query: QueryOptions(k: 1))))
        let results = try client.pipeline(requests)
        XCTAssertEqual(results.count, 202)
        let firstIds = try results.map { r -> UInt64? in
            guard case let .success(json) = r else { return nil }
            return try ResultDecoder.search(json).hits.first?.id
        }
        // Before the write the best match is item 6 (0.5 on every axis); after it, the new point.
        XCTAssertEqual(Set(firstIds[0..<100]), [6])
        XCTAssertNil(firstIds[100], "the upsert's result is not a search")
        XCTAssertEqual(Set(firstIds[101..<201]), [77])
        guard case let .failure(e) = results[201] else { return XCTFail("a bad vector was accepted") }
        XCTAssertEqual(e.code, .dimensionMismatch)
    }

    func testAConnectionClosedWhileIdleIsReopenedAndReauthenticated() throws {
        let dir = TemporaryDirectory()
        let running = try RunningServer([try ServerFixtures.writeDocumentCollection(in: dir)]) {
            $0.limits.idleTimeoutSeconds = 1
            $0.authToken = "secret"
        }
        XCTAssertThrowsError(try ShortlistClient(port: running.port, token: "wrong")) {
            XCTAssertEqual(($0 as? ProtocolError)?.code, .unauthorized)
        }
        let client = try ShortlistClient(port: running.port, token: "secret")
        try client.ping()
        Thread.sleep(forTimeInterval: 2.5)   // the server closes the idle connection after 1 s
        XCTAssertEqual(try client.search(collection: "items", vector: [0, 0, 1, 0], options: QueryOptions(k: 1)).hits.map(\.id), [5])
    }

    func testTheAsyncClientAnswersConcurrentCalls() async throws {
        let dir = TemporaryDirectory()
        let running = try RunningServer([try ServerFixtures.writeDocumentCollection(in: dir)])
        let client = try AsyncShortlistClient(port: running.port)
        let axes: [(Int, UInt64)] = [(0, 1), (1, 3), (2, 5)]
        let found = try await withThrowingTaskGroup(of: (UInt64, UInt64).self) { group in
            for (axis, expected) in axes {
                group.addTask {
                    var v: [Float] = [0, 0, 0, 0]
                    v[axis] = 1
                    return (expected, try await client.search(collection: "items", vector: v, options: QueryOptions(k: 1)).hits[0].id)
                }
            }
            var out: [(UInt64, UInt64)] = []
            for try await pair in group { out.append(pair) }
            return out
        }
        for (expected, got) in found { XCTAssertEqual(got, expected) }
        XCTAssertEqual(found.count, 3)
    }
}
