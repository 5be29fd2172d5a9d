import Foundation
import ShortlistCore
import ShortlistData
import ShortlistIndex
import ShortlistTrainer
import ShortlistServer
import ShortlistClient
import ShortlistTestSupport
import ShortlistModel
import XCTest

/// Collections on disk for the server tests, and a running server on a free loopback port.
enum ServerFixtures {
    /// The small collection the protocol document's examples use: six 4-d vectors, inner
    /// product, ids 1…6, with titles as payloads.
    static func writeDocumentCollection(in dir: TemporaryDirectory) throws -> ServedCollection.Description {
        let vectors: [Float] = [
            1, 0, 0, 0,
            0.9, 0.1, 0, 0,
            0, 1, 0, 0,
            0, 0.8, 0.2, 0,
            0, 0, 1, 0,
            0.5, 0.5, 0.5, 0.5,
        ]
        let index = try FlatIndex(metric: .ip, vectors: try VectorMatrix(dimension: 4, values: vectors), ids: [1, 2, 3, 4, 5, 6])
        let path = dir.file("items.idx")
        try index.save(to: path)
        let titles = ["Alien", "Aliens", "Heat", "Ronin", "Up", "Fargo"]
        dir.write("items.idx.payloads.jsonl", text: titles.enumerated().map { "{\"id\":\($0 + 1),\"payload\":{\"title\":\"\($1)\"}}" }.joined(separator: "\n") + "\n")
        return ServedCollection.Description(name: "items", indexPath: path)
    }

    /// An HNSW cosine collection over seeded clustered data (count × 16), ids = row numbers.
    static func writeGraphCollection(in dir: TemporaryDirectory, name: String = "graph", count: Int = 2_000) throws -> (ServedCollection.Description, VectorMatrix) {
        let base = Fixtures.clustered(count: count, dimension: 16, seed: 21)
        let index = try HNSWIndex(metric: .cosine, vectors: base, configuration: HNSWConfiguration(m: 12, efConstruction: 100), threads: 2)
        let path = dir.file("\(name).idx")
        try index.save(to: path)
        return (ServedCollection.Description(name: name, indexPath: path), base)
    }

    /// A two-tower model trained on seeded interactions (40 users, 40 items, ids as numbers; user
    /// u likes items of group u mod 4), its item index, and the collection that serves both.
    static func writeRecommenderCollection(in dir: TemporaryDirectory, name: String = "movies") throws -> ServedCollection.Description {
        var lines: [String] = []
        for u in 0..<40 {
            var mine = Set<Int>()
            var j = 0
            while mine.count < 8 { mine.insert(u % 4 + 4 * ((u * 7 + j * 3) % 10)); j += 1 }
            for i in mine.sorted() { lines.append("\(u) \(i)") }
        }
        let pairs = dir.write("\(name)-interactions.txt", text: lines.joined(separator: "\n") + "\n")
        let source = InteractionSource(format: .pairs, path: pairs)
        let data = try InteractionData.read(source)
        var c = TwoTowerConfiguration()
        c.dimension = 8
        c.batchSize = 32
        c.epochs = 30
        c.patience = 0
        c.learningRate = 0.05
        c.threads = 1
        c.seed = 5
        let trainer = try TwoTowerTrainer(model: try TwoTowerModel(configuration: c, data: data), data: data)
        trainer.run()
        let modelDir = dir.file("\(name)-model")
        try FileManager.default.createDirectory(atPath: modelDir, withIntermediateDirectories: true)
        try ModelFile.save(trainer.model, source: source, to: modelDir + "/model.slm")
        let index = try FlatIndex(metric: trainer.model.scoreMetric, vectors: try trainer.model.itemEmbeddings(), ids: trainer.model.itemIds)
        try index.save(to: dir.file("\(name).idx"))
        return ServedCollection.Description(name: name, indexPath: dir.file("\(name).idx"), modelDirectory: modelDir)
    }

    /// `shows`: a model with request-time history (5 items), user segment, item genre / tags /
    /// price / blurb features and hour / weekday / device context, trained on `FeatureFixtures`
    /// (items 500–579 in 4 genres g0–g3, users 1000–1159), served with its item payloads.
    static func writeFeatureCollection(in dir: TemporaryDirectory, name: String = "shows") throws -> ServedCollection.Description {
        let dataDir = TemporaryDirectory()   // removed when this function returns
        let source = FeatureFixtures.source(in: dataDir)
        let data = try withExtendedLifetime(dataDir) { try InteractionData.read(source) }
        let c = FeatureFixtures.configuration(dimension: 8)
        let trainer = try TwoTowerTrainer(model: try TwoTowerModel(configuration: c, data: data), data: data)
        trainer.run()
        let modelDir = dir.file("\(name)-model")
        try FileManager.default.createDirectory(atPath: modelDir, withIntermediateDirectories: true)
        try ModelFile.save(trainer.model, source: source, to: modelDir + "/model.slm")
        try ItemPayloads.write(model: trainer.model, data: data, to: modelDir + "/item_payloads.jsonl")
        let index = try FlatIndex(metric: trainer.model.scoreMetric, vectors: try trainer.model.itemEmbeddings(), ids: trainer.model.itemIds)
        try index.save(to: dir.file("\(name).idx"))
        return ServedCollection.Description(name: name, indexPath: dir.file("\(name).idx"), modelDirectory: modelDir)
    }

    static func vectorJSON(_ v: [Float]) -> String { "[" + v.map { "\($0)" }.joined(separator: ",") + "]" }
}

/// A server on 127.0.0.1 with a free port, stopped when released.
final class RunningServer {
    let server: Server
    var port: Int { server.port }

    init(_ descriptions: [ServedCollection.Description], durability: WriteAheadLog.SyncMode? = nil, backlogBytes: Int? = nil,
         configure: (inout Server.Configuration) -> Void = { _ in }) throws {
        var config = Server.Configuration()
        config.port = 0
        config.workers = 2
        configure(&config)
        server = try Server(collections: try descriptions.map { try ServedCollection($0, durability: durability, backlogBytes: backlogBytes) }, configuration: config)
        try server.start()
    }

    func client(timeout: Double = 10) throws -> LineClient { try LineClient(host: "127.0.0.1", port: port, timeout: timeout) }

    deinit { server.shutdown(timeout: 5) }
}

/// Reads a reply line as JSON.
func json(_ line: String, file: StaticString = #filePath, line number: UInt = #line) -> [String: Any] {
    guard let data = line.data(using: .utf8), let o = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
        XCTFail("not a JSON object: \(line)", file: file, line: number)
        return [:]
    }
    return o
}

/// The error code of a reply (nil when ok).
func errorCode(_ line: String) -> String? {
    (json(line)["error"] as? [String: Any])?["code"] as? String
}

/// The result object of a successful reply.
func result(_ line: String, file: StaticString = #filePath, line number: UInt = #line) -> [String: Any] {
    let o = json(line, file: file, line: number)
    XCTAssertEqual(o["ok"] as? Bool, true, line, file: file, line: number)
    return o["result"] as? [String: Any] ?? [:]
}

/// Hit ids of a search-like reply.
func hitIds(_ line: String, file: StaticString = #filePath, line number: UInt = #line) -> [UInt64] {
    (result(line, file: file, line: number)["hits"] as? [[String: Any]] ?? []).map { ($0["id"] as! NSNumber).uint64Value }
}
