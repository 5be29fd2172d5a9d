import ArgumentParser
import Foundation
import ShortlistCore
import ShortlistFeatures
import ShortlistModel
import ShortlistData
import ShortlistIndex
import ShortlistServer
import ShortlistTrainer

struct RecommendCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "recommend",
        abstract: "Top-k items for a user (through the user tower) or like an item, from a trained model.",
        usage: "shortlist recommend --model <folder> [--user <id>] [<options>]",
        discussion: """
        The user tower embeds what is known: --user (a user the model knows: its id embedding, \
        stored features and history), --history (item ids, oldest first: serves a user the model \
        never saw), --features and --context (name=value pairs; a value never seen in training \
        falls into the out-of-vocabulary row). The item index (or, without --index, exact search \
        over the model's item embeddings) returns the nearest items. With --exclude-seen the \
        user's stored items and the history are left out. --like ITEM gives the items nearest to \
        that item's embedding, the item itself excluded. Titles come from the model folder's \
        item_payloads.jsonl. Only the model folder is read, never the training data.

        Examples:
          shortlist recommend --model index-data/movielens --user 1 --k 10 \\
              --exclude-seen
          shortlist recommend --model index-data/movielens --history 1,260,1196 \\
              --context hour=21 --exclude-seen
          shortlist recommend --model index-data/movielens \\
              --index index-data/movielens/items.idx --like 1
        """
    )

    @Option(help: "Model folder written by `shortlist train`.")
    var model: String

    @Option(help: "Item index built from the model's item embeddings (default: exact search in memory).")
    var index: String?

    @Option(help: "External user id to recommend for.")
    var user: UInt64?

    @Option(help: "Item ids the user interacted with, oldest first, comma separated (request-time history).")
    var history: String?

    @Option(help: "User features, name=value pairs, comma separated (e.g. gender=F,occupation=writer); a list value joins with |.")
    var features: String?

    @Option(help: "Context, name=value pairs, comma separated (e.g. hour=21,weekday=sat, or timestamp=1700000000).")
    var context: String?

    @Option(help: "External item id: recommend items like this one.")
    var like: UInt64?

    @Option(help: "Number of items.")
    var k: Int = 10

    @Option(help: "HNSW candidate list size (with --index).")
    var ef: Int?

    @Flag(name: .customLong("exclude-seen"), help: "Leave out the user's stored training and validation items and the --history items.")
    var excludeSeen = false

    /// `a=1,b=x|y` → name → value (numbers as numbers, `|` lists as lists).
    static func pairs(_ text: String, option: String) throws -> [String: FeatureValue] {
        var out: [String: FeatureValue] = [:]
        for part in text.split(separator: ",") {
            guard let eq = part.firstIndex(of: "="), eq != part.startIndex else { throw ValidationError("\(option) takes name=value pairs, not '\(part)'") }
            let name = String(part[..<eq]).trimmingCharacters(in: .whitespaces)
            let value = String(part[part.index(after: eq)...]).trimmingCharacters(in: .whitespaces)
            if value.contains("|") { out[name] = .list(value.split(separator: "|").map(String.init)) }
            else if let d = Double(value), d.isFinite { out[name] = .number(d) }
            else { out[name] = .text(value) }
        }
        return out
    }

    func run() throws {
        Runtime.prepare()
        let asksForUser = user != nil || history != nil || features != nil || context != nil
        guard asksForUser != (like != nil) else { throw ValidationError("give --like, or any of --user, --history, --features and --context") }
        guard (1...SearchLimits.maximumK).contains(k) else { throw ValidationError("--k must be in 1...\(SearchLimits.maximumK)") }
        let folder = model
        if ALSModelFolder.holdsModel(folder) { return try recommendALS() }
        let model = try ModelFile.load(path: (folder as NSString).appendingPathComponent("model.slm")).model
        var exclude = Set<UInt64>()
        let query: [Float]
        if asksForUser {
            let historyIds = try (history ?? "").split(separator: ",").map { part -> UInt64 in
                guard let id = UInt64(part.trimmingCharacters(in: .whitespaces)) else { throw ValidationError("--history takes item ids like 1,2,3, not '\(part)'") }
                return id
            }
            let request = UserQuery(userId: user, history: historyIds, features: try features.map { try Self.pairs($0, option: "--features") } ?? [:],
                                    context: try context.map { try Self.pairs($0, option: "--context") } ?? [:])
            var vector = [Float](repeating: 0, count: model.embeddingDimension)
            try vector.withUnsafeMutableBufferPointer { try model.embedUser(request, into: $0.baseAddress!) }
            query = vector
            if excludeSeen {
                exclude.formUnion(historyIds)
                if let user {
                    guard let seen = model.seenItems(ofUser: user) else { throw ValidationError("--exclude-seen: this model stores no seen sets; retrain it with this version") }
                    exclude.formUnion(seen)
                }
            }
        } else {
            guard let itemRow = model.itemRow(of: like!) else { throw TrainerError.unknownId(like!) }
            // The item's direction only: an appended bias column is zeroed so it does not count.
            var row = try model.itemEmbeddings().rowArray(itemRow)
            if model.embeddingDimension > model.dimension { row[model.dimension] = 0 }
            query = row
            exclude.insert(like!)
        }
        try show(query: query, excluding: exclude, itemIds: model.itemIds, embeddings: try model.itemEmbeddings(),
                 metric: model.scoreMetric, payloads: (folder as NSString).appendingPathComponent("item_payloads.jsonl"))
    }

    /// A `train --model als` folder: the user's factor (or the item's) against the item factors
    /// by inner product. It knows only the users and items it was trained on.
    private func recommendALS() throws {
        guard history == nil, features == nil, context == nil else {
            throw ValidationError("an ALS model (\(model)) knows only the users it was trained on: give --user or --like; --history, --features and --context need a two-tower model")
        }
        let loaded = try ALSModelFolder.read(model)
        var exclude = Set<UInt64>()
        let query: [Float]
        if let user {
            guard let row = loaded.userIds.firstIndex(of: user) else { throw TrainerError.unknownId(user) }
            query = loaded.users.rowArray(row)
            if excludeSeen {
                // The factors store no seen sets: they come from the training data, read again.
                let data = try loaded.interactions()
                for i in data.train.items(of: row) { exclude.insert(data.itemIds[Int(i)]) }
                for i in data.valid.items(of: row) { exclude.insert(data.itemIds[Int(i)]) }
            }
        } else {
            guard let row = loaded.itemIds.firstIndex(of: like!) else { throw TrainerError.unknownId(like!) }
            query = loaded.items.rowArray(row)
            exclude.insert(like!)
        }
        try show(query: query, excluding: exclude, itemIds: loaded.itemIds, embeddings: loaded.items, metric: .ip, payloads: nil)
    }

    /// Searches `--index` (checked to hold `embeddings` under `itemIds`) or, without it, the
    /// embeddings exactly; prints the top k not in `exclude`, with titles from `payloads`.
    private func show(query: [Float], excluding exclude: Set<UInt64>, itemIds: [UInt64], embeddings: VectorMatrix,
                      metric: Metric, payloads: String?) throws {
        let searcher: any VectorIndex
        if let index {
            searcher = try IndexLoader.load(path: index)
            guard searcher.dimension == embeddings.dimension else {
                throw ValidationError("\(index) holds \(searcher.dimension)-dimensional vectors; the model's are \(embeddings.dimension)")
            }
            do { try ModelIndexMatch.verify(metric: metric, index: searcher) } catch { throw ValidationError("\(index): \(error)") }
            if let mutable = searcher as? any MutableVectorIndex {
                do { try ModelIndexMatch.verify(itemIds: itemIds, embeddings: embeddings, index: mutable) } catch {
                    throw ValidationError("\(index): \(error)")
                }
            }
        } else {
            searcher = try FlatIndex(metric: metric, vectors: embeddings, ids: itemIds)
        }
        let hits = try searcher.search(query, k: min(searcher.count, k + exclude.count), parameters: SearchParameters(ef: ef))
            .filter { !exclude.contains($0.id) }.prefix(k)
        let titles = try payloads.map { try PayloadFile.titles(path: $0) } ?? [:]
        print("rank  item        score     title")
        for (rank, hit) in hits.enumerated() {
            let score = searcher.metric.score(fromDistance: hit.distance)
            print(String(format: "%4d  %-10llu  %.4f    %@", rank + 1, hit.id, score, titles[hit.id] ?? ""))
        }
    }
}
