import ShortlistModel
import ArgumentParser
import Foundation
import ShortlistCore
import ShortlistData
import ShortlistTrainer

struct EvaluateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "evaluate",
        abstract: "Score a trained model by full ranking on its validation or test split.",
        usage: "shortlist evaluate --model <folder> [--split test|valid] [<options>]",
        discussion: """
        Every item is ranked for every user with at least one item in the split; the user's \
        training items are masked (and, for the test split, the validation items too). Each user \
        is embedded as a request at that moment would: with the items before it as history and the \
        context of the user's first held-out interaction. Prints Recall@10/20/50/100, NDCG@10/20 \
        and HR@10; --json writes them with keys like "recall@20". The data is re-read from where \
        the model was trained, split the same way (--data overrides the location).

        --cold-users (and --cold-items) report the users (items) the model was trained without \
        (train --split-by users / --cold-users / --cold-items) beside the known ones, with the \
        MostPop and random-vector baselines.

        Examples:
          shortlist evaluate --model index-data/gowalla --split test \\
              --json test-metrics.json
          shortlist evaluate --model index-data/ml100k --split test --cold-users \\
              --cold-items
        """
    )

    @Option(help: "Model folder written by `shortlist train` (or a model.slm file).")
    var model: String

    @Option(help: "Interaction data, if it has moved since training (same layout and split settings).")
    var data: String?

    @Option(help: "valid or test.")
    var split: EvaluationSplit = .test

    @Option(help: "Also write the metrics as JSON to this file.")
    var json: String?

    @Option(help: "Threads (default every core).")
    var threads: Int?

    @Flag(name: .customLong("cold-users"), help: "Also report the users held out of training, beside MostPop.")
    var coldUsers = false

    @Flag(name: .customLong("cold-items"), help: "Also report the items held out of training, embedded from features, beside random vectors.")
    var coldItems = false

    func run() throws {
        Runtime.prepare()
        var isDirectory: ObjCBool = false
        let isFolder = FileManager.default.fileExists(atPath: model, isDirectory: &isDirectory) && isDirectory.boolValue
        if isFolder && ALSModelFolder.holdsModel(model) { return try evaluateALS() }
        let path = isFolder ? (model as NSString).appendingPathComponent("model.slm") : model
        let loaded = try ModelFile.load(path: path)
        guard var source = try loaded.source() else {
            throw ValidationError("\(path) does not record its training data; it cannot be evaluated")
        }
        if let data { source.path = data }
        let interactions = try InteractionData.read(source)
        guard interactions.userIds == loaded.model.userIds, interactions.itemIds == loaded.model.itemIds else {
            throw TrainerError.dataMismatch("\(source.path) now holds other users or items than the model was trained on")
        }
        let target = split == .valid ? interactions.valid : interactions.test
        guard target.count > 0 else { throw TrainerError.emptySplit(split.rawValue) }
        if coldUsers && interactions.coldUsers == nil { throw ValidationError("--cold-users: the model was trained without held-out users (train with --split-by users or --cold-users)") }
        if coldItems && interactions.coldItems == nil { throw ValidationError("--cold-items: the model was trained without held-out items (train with --cold-items)") }
        let watch = Stopwatch()
        let metrics = try ColdStartEvaluator.evaluateWarm(model: loaded.model, data: interactions, test: split == .test, threads: Runtime.threads(threads))
        try report(metrics, users: metrics.userCount, items: interactions.itemCount, seconds: watch.seconds, extra: {
            guard coldUsers || coldItems else { return [] }
            var data = interactions
            if !coldUsers { data.coldUsers = nil }
            if !coldItems { data.coldItems = nil }
            return try ColdStartReport.print(model: loaded.model, data: data, threads: Runtime.threads(threads)).filter { !$0.0.hasPrefix("known") }
        })
    }

    /// A `train --model als` folder: the factors' inner products, ranked the same way.
    private func evaluateALS() throws {
        guard !coldUsers, !coldItems else { throw ValidationError("--cold-users / --cold-items: an ALS model embeds only the users and items it was trained on") }
        let loaded = try ALSModelFolder.read(model)
        let interactions = try loaded.interactions(path: data)
        guard (split == .valid ? interactions.valid : interactions.test).count > 0 else { throw TrainerError.emptySplit(split.rawValue) }
        let watch = Stopwatch()
        let metrics = ALSModelFolder.evaluate(users: loaded.users, items: loaded.items, data: interactions, test: split == .test, threads: Runtime.threads(threads))
        try report(metrics, users: metrics.userCount, items: interactions.itemCount, seconds: watch.seconds, extra: { [] })
    }

    /// Prints the metrics table (and the rows `extra` prints itself), and writes --json.
    private func report(_ metrics: RankingMetrics, users: Int, items: Int, seconds: Double, extra makeExtra: () throws -> [(String, RankingMetrics)]) throws {
        print("\(split) split: \(users) users, \(items) items ranked (\(String(format: "%.1f", seconds)) s)")
        print("| metric | value |\n|---|---|")
        for (name, value) in metrics.values { print("| \(name) | \(String(format: "%.4f", value)) |") }
        let extra = try makeExtra()
        if let json {
            var fields = metrics.values.map { "  \"\($0.name)\": \(String(format: "%.6f", $0.value))" }
            fields.append("  \"users\": \(metrics.userCount)")
            fields.append("  \"split\": \"\(split)\"")
            for (name, m) in extra {
                let key = name.replacingOccurrences(of: " ", with: "_").filter { $0.isLetter || $0 == "_" }
                fields.append("  \"\(key)\": {" + m.values.map { "\"\($0.name)\": \(String(format: "%.6f", $0.value))" }.joined(separator: ", ") + ", \"users\": \(m.userCount)}")
            }
            let text = "{\n" + fields.joined(separator: ",\n") + "\n}\n"
            let writer = try AtomicFileWriter(path: json)
            try writer.write(Array(text.utf8))
            try writer.commit()
        }
    }
}
