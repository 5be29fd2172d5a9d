import ArgumentParser
import Foundation
import ShortlistCore
import ShortlistData
import ShortlistIndex
import ShortlistServer
import ShortlistTrainer

struct RecommendCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "recommend",
        abstract: "Top-k items for a user (through the user tower) or like an item, from a trained model.",
        discussion: """
        The user tower embeds --user; the item index (or, without --index, exact search over the
        model's item embeddings) returns the nearest items by cosine. With --exclude-seen the
        user's training and validation items are left out. --like ITEM gives the items nearest
        to that item's embedding, the item itself excluded. Titles are shown when the training
        data names them (MovieLens).

        Examples:
          shortlist recommend --model index-data/movielens --user 1 --k 10 --exclude-seen
          shortlist recommend --model index-data/movielens --index index-data/movielens/items.idx --like 1
        """
    )

    @Option(help: "Model folder written by `shortlist train`.")
    var model: String

    @Option(help: "Item index built from the model's item embeddings (default: exact search in memory).")
    var index: String?

    @Option(help: "External user id to recommend for.")
    var user: UInt64?

    @Option(help: "External item id: recommend items like this one.")
    var like: UInt64?

    @Option(help: "Number of items.")
    var k: Int = 10

    @Option(help: "HNSW candidate list size (with --index).")
    var ef: Int?

    @Flag(name: .customLong("exclude-seen"), help: "Leave out the user's training and validation items.")
    var excludeSeen = false

    func run() throws {
        Runtime.prepare()
        guard (user == nil) != (like == nil) else { throw ValidationError("give exactly one of --user and --like") }
        guard (1...SearchLimits.maximumK).contains(k) else { throw ValidationError("--k must be in 1...\(SearchLimits.maximumK)") }
        let loaded = try ModelFile.load(path: (model as NSString).appendingPathComponent("model.slm"))
        let model = loaded.model
        // The data gives titles and what the user has seen; it is optional.
        var data: InteractionData?
        if let source = loaded.source, FileManager.default.fileExists(atPath: source.path) {
            data = try? InteractionData.read(source)
            if data?.itemIds != model.itemIds { data = nil }
        }
        var exclude = Set<UInt64>()
        let query: [Float]
        if let user {
            query = try model.embedUser(id: user)
            if excludeSeen {
                guard let data, let row = data.userIds.firstIndex(of: user) else {
                    throw ValidationError("--exclude-seen needs the training data at \(loaded.source?.path ?? "?")")
                }
                for i in data.train.items(of: row) { exclude.insert(model.itemIds[Int(i)]) }
                for i in data.valid.items(of: row) { exclude.insert(model.itemIds[Int(i)]) }
            }
        } else {
            guard let itemRow = model.itemIds.firstIndex(of: like!) else { throw TrainerError.unknownId(like!) }
            // The item's direction only: an appended bias column is zeroed so it does not count.
            var row = try model.itemEmbeddings().rowArray(itemRow)
            if model.embeddingDimension > model.dimension { row[model.dimension] = 0 }
            query = row
            exclude.insert(like!)
        }
        let searcher: any VectorIndex
        if let index {
            searcher = try IndexLoader.load(path: index)
            guard searcher.dimension == model.embeddingDimension else {
                throw ValidationError("\(index) holds \(searcher.dimension)-dimensional vectors; the model's are \(model.embeddingDimension)")
            }
            if let mutable = searcher as? any MutableVectorIndex {
                do { try ModelIndexMatch.verify(itemIds: model.itemIds, embeddings: try model.itemEmbeddings(), index: mutable) } catch {
                    throw ValidationError("\(index): \(error)")
                }
            }
        } else {
            searcher = try FlatIndex(metric: model.scoreMetric, vectors: try model.itemEmbeddings(), ids: model.itemIds)
        }
        let hits = try searcher.search(query, k: min(searcher.count, k + exclude.count), parameters: SearchParameters(ef: ef))
            .filter { !exclude.contains($0.id) }.prefix(k)
        let titles = data.map { Dictionary(uniqueKeysWithValues: zip($0.itemIds, $0.itemTitles)) } ?? [:]
        print("rank  item        score     title")
        for (rank, hit) in hits.enumerated() {
            let score = searcher.metric.score(fromDistance: hit.distance)
            print(String(format: "%4d  %-10llu  %.4f    %@", rank + 1, hit.id, score, titles[hit.id] ?? ""))
        }
    }
}
