import ShortlistModel
import ArgumentParser
import Foundation
import ShortlistCore
import ShortlistData
import ShortlistTrainer

struct TrainBenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train-bench",
        abstract: "Training throughput (examples/s) of the two-tower step, without evaluation.",
        usage: "shortlist train-bench --data <data> [<options>]",
        discussion: """
        The same protocol as `recpeers --bench-twotower`: for each setting, 10 warm-up steps, then \
        --repeats runs of --steps steps on shuffled training pairs; the median and best run are \
        reported in examples per second.

        Example:
          shortlist train-bench --data ../shared/data/interactions/gowalla \\
              --batch 1024,2048,4096 --hidden 0,128 --threads 2
        """
    )

    @Option(help: "Folder in the LightGCN layout (or see `shortlist train --help` for --format).")
    var data: String

    @Option(help: "Data layout.")
    var format: InteractionFormat = .lightgcn

    @Option(help: "Batch sizes, comma separated.")
    var batch: String = "1024,2048,4096"

    @Option(help: "MLP hidden widths to try, comma separated (0: none).")
    var hidden: String = "0,128"

    @Option(help: "Embedding and output width.")
    var dim: Int = 64

    @Option(help: "Embedding optimisers to try, comma separated (adam, adagrad).")
    var optimizer: String = "adam"

    @Option(help: "Timed steps per run.")
    var steps: Int = 50

    @Option(help: "Timed runs per setting.")
    var repeats: Int = 3

    @Option(help: "Threads (default every core).")
    var threads: Int?

    @Option(help: "Seed.")
    var seed: UInt64 = 0

    func run() throws {
        Runtime.prepare()
        guard (1...100_000).contains(steps), (1...100).contains(repeats) else { throw ValidationError("--steps 1…100000, --repeats 1…100") }
        func ints(_ text: String, _ name: String) throws -> [Int] {
            try text.split(separator: ",").map {
                guard let v = Int($0) else { throw ValidationError("\(name) takes integers, comma separated") }
                return v
            }
        }
        let data = try InteractionData.read(InteractionSource(format: format, path: self.data))
        print("data: \(data.summary)")
        print("| batch | hidden | optimizer | examples/s (median) | examples/s (best) | ms/step (median) |")
        print("|---|---|---|---|---|---|")
        for b in try ints(batch, "--batch") {
            for h in try ints(hidden, "--hidden") {
                for name in optimizer.split(separator: ",") {
                    guard let opt = EmbeddingOptimizer(rawValue: String(name)) else { throw ValidationError("unknown optimizer \(name)") }
                    var c = TwoTowerConfiguration()
                    c.dimension = dim
                    c.batchSize = b
                    c.hiddenWidths = h > 0 ? [h] : []
                    c.embeddingOptimizer = opt
                    c.seed = seed
                    c.threads = Runtime.threads(threads)
                    let trainer = try TwoTowerTrainer(model: try TwoTowerModel(configuration: c, data: data), data: data)
                    _ = trainer.timeSteps(10)
                    let times = (0..<repeats).map { _ in trainer.timeSteps(steps) / Double(steps) }.sorted()
                    let median = times[times.count / 2], best = times[0]
                    print(String(format: "| %d | %d | %@ | %.0f | %.0f | %.2f |", b, h, String(name), Double(b) / median, Double(b) / best, median * 1000))
                    fflush(stdout)
                }
            }
        }
    }
}
