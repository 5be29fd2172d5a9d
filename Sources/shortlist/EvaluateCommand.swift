import ArgumentParser
import Foundation
import ShortlistCore
import ShortlistData
import ShortlistTrainer

struct EvaluateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "evaluate",
        abstract: "Score a trained model by full ranking on its validation or test split.",
        discussion: """
        Every item is ranked for every user with at least one item in the split; the user's
        training items are masked (and, for the test split, the validation items too). Prints
        Recall@10/20/50/100, NDCG@10/20 and HR@10; --json writes them with keys like "recall@20".
        The data is re-read from where the model was trained, split the same way (--data overrides
        the location).

        Example:
          shortlist evaluate --model index-data/gowalla --split test --json test-metrics.json
        """
    )

    @Option(help: "Model folder written by `shortlist train` (or a model.slm file).")
    var model: String

    @Option(help: "Interaction data, if it has moved since training (same layout and split settings).")
    var data: String?

    @Option(help: "valid or test.")
    var split: String = "test"

    @Option(help: "Also write the metrics as JSON to this file.")
    var json: String?

    @Option(help: "Threads (default every core).")
    var threads: Int?

    func run() throws {
        Runtime.prepare()
        guard split == "valid" || split == "test" else { throw ValidationError("--split is valid or test") }
        var isDirectory: ObjCBool = false
        let path = FileManager.default.fileExists(atPath: model, isDirectory: &isDirectory) && isDirectory.boolValue
            ? (model as NSString).appendingPathComponent("model.slm") : model
        let loaded = try ModelFile.load(path: path)
        guard var source = loaded.source else {
            throw ValidationError("\(path) does not record its training data; it cannot be evaluated")
        }
        if let data { source.path = data }
        let interactions = try InteractionData.read(source)
        guard interactions.userIds == loaded.model.userIds, interactions.itemIds == loaded.model.itemIds else {
            throw TrainerError.dataMismatch("\(source.path) now holds other users or items than the model was trained on")
        }
        let target = split == "valid" ? interactions.valid : interactions.test
        guard target.count > 0 else { throw TrainerError.emptySplit(split) }
        let mask = split == "valid" ? interactions.train : interactions.train.union(interactions.valid)
        let watch = Stopwatch()
        let metrics = RankingEvaluator.evaluate(users: try loaded.model.userEmbeddings(), items: try loaded.model.itemEmbeddings(),
                                                target: target, mask: mask, threads: Runtime.threads(threads))
        print("\(split) split: \(metrics.userCount) users, \(interactions.itemCount) items ranked (\(String(format: "%.1f", watch.seconds)) s)")
        print("| metric | value |\n|---|---|")
        for (name, value) in metrics.values { print("| \(name) | \(String(format: "%.4f", value)) |") }
        if let json {
            var fields = metrics.values.map { "  \"\($0.name)\": \(String(format: "%.6f", $0.value))" }
            fields.append("  \"users\": \(metrics.userCount)")
            fields.append("  \"split\": \"\(split)\"")
            let text = "{\n" + fields.joined(separator: ",\n") + "\n}\n"
            let writer = try AtomicFileWriter(path: json)
            try writer.write(Array(text.utf8))
            try writer.commit()
        }
    }
}
