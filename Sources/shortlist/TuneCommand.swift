import ArgumentParser
import Foundation
import ShortlistBench
import ShortlistCore
import ShortlistData
import ShortlistIndex

struct TuneCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tune",
        abstract: "Measure recall and speed for every knob setting of an index and store the table in it, so searches can ask for a recall.",
        usage: "shortlist tune --index <f> --queries <f> --target-recall <r> [<options>]",
        discussion: """
        The queries are split at random (seeded) in two: one part tunes (every candidate ef, or nprobe × rerank, \
        timed on one thread, recall against the ground truth), the second checks the setting \
        chosen for --target-recall on queries it was not chosen on. The table goes into the index \
        file (section TUNE); `shortlist serve` then accepts "params":{"target_recall":0.95} and \
        uses the fastest measured setting that reached it.

        Example:
          shortlist tune --index index-data/items.idx --queries query.fvecs \\
              --groundtruth gt.ivecs --target-recall 0.95
        """
    )

    @Option(help: "Index file to tune (rewritten with the table unless --dry-run).") var index: String
    @Option(help: "Query vectors (.fvecs, .npy, …).") var queries: String
    @Option(help: "Ground truth (.ivecs) for the queries; computed exactly from --base when absent.") var groundtruth: String?
    @Option(help: "Base vectors, to compute the ground truth when --groundtruth is not given.") var base: String?
    @Option(name: .customLong("target-recall"), help: "The recall@k the chosen setting must reach.") var targetRecall: Double
    @Option(help: "Neighbours the recall is measured at.") var k = 10
    @Option(name: .customLong("tune-fraction"), help: "Share of the queries used for tuning; the rest check the choice.") var tuneFraction = 0.5
    @Option(help: "Seed of the random split of the queries.") var seed: UInt64 = SeededGenerator.defaultSeed
    @Flag(name: .customLong("dry-run"), help: "Measure and report, but leave the index file unchanged.") var dryRun = false

    func validate() throws {
        guard targetRecall > 0, targetRecall <= 1 else { throw ValidationError("--target-recall must be in (0, 1]") }
        guard tuneFraction > 0, tuneFraction < 1 else { throw ValidationError("--tune-fraction must be between 0 and 1") }
        guard groundtruth != nil || base != nil else { throw ValidationError("give --groundtruth, or --base to compute it") }
        guard (1...1000).contains(k) else { throw ValidationError("--k must be in 1...1000") }
    }

    func run() throws {
        Runtime.prepare(verbose: true)
        let loaded = try IndexLoader.load(path: index)
        let all = try VectorFile.read(path: queries).matrix
        let truthRows: IntMatrix
        if let groundtruth {
            truthRows = try IntMatrix.read(path: groundtruth)
        } else {
            let baseVectors = try VectorFile.read(path: base!).matrix
            truthRows = try SearchCommand.idMatrix(ExactSearch.groundTruth(base: baseVectors, queries: all, metric: loaded.metric, k: k, threads: Runtime.threads(nil)))
        }
        // Ground truth names base rows; an index built with --ids answers with its ids.
        let (truth, translated) = try GroundTruthIds.translate(truthRows, for: loaded)
        if translated { print("ground truth rows mapped to the index's ids (it was built with --ids)") }
        if let warning = GroundTruthIds.warning(for: loaded) { print(warning) }
        guard truth.count >= all.count, truth.width >= k else { throw ValidationError("the ground truth has \(truth.count) rows × \(truth.width); need \(all.count) × \(k)") }
        let split = max(1, min(all.count - 1, Int(Double(all.count) * tuneFraction)))
        // A random split: query files are often ordered (by topic, by source), and a first half
        // that is easier than the second would choose too small a setting.
        var rng = SeededGenerator(seed: seed)
        var order = Array(0..<all.count)
        order.shuffle(using: &rng)
        func rows(_ picked: ArraySlice<Int>) throws -> (VectorMatrix, IntMatrix) {
            let m = try VectorMatrix(count: picked.count, dimension: all.dimension)
            var values: [Int32] = []
            values.reserveCapacity(picked.count * truth.width)
            for (i, r) in picked.enumerated() {
                m.row(i).update(from: all.row(r), count: all.dimension)
                values.append(contentsOf: truth[row: r])
            }
            return (m, IntMatrix(count: picked.count, width: truth.width, values: values))
        }
        let (tuneQueries, tuneTruth) = try rows(order[..<split])
        let (checkQueries, checkTruth) = try rows(order[split...])
        print("tuning \(loaded.spec) on \(split) queries, checking on \(all.count - split)")
        print("| setting | recall@\(k) | µs per query (1 thread) |\n|---|---|---|")
        let table = try Tuner.tune(index: loaded, queries: tuneQueries, groundTruth: tuneTruth, k: k) { e in
            print("| \(Benchmark.label(e.parameters)) | \(String(format: "%.4f", e.recall)) | \(String(format: "%.1f", e.microseconds)) |")
        }
        guard let chosen = table.parameters(forRecall: targetRecall) else {
            throw ValidationError(String(format: "no setting reached recall %.4f (the best was %.4f)", targetRecall, table.bestRecall))
        }
        let checked = try Tuner.recall(index: loaded, queries: checkQueries, groundTruth: checkTruth, k: k, parameters: chosen.parameters)
        print(String(format: "target %.4f: %@ (recall %.4f on the tuning queries, %.1f µs); recall on the %d held-out queries: %.4f (%+.4f)",
                     targetRecall, Benchmark.label(chosen.parameters), chosen.recall, chosen.microseconds, checkQueries.count, checked, checked - targetRecall))
        if dryRun { return }
        try table.store(inIndexAt: index)
        print("stored \(table.entries.count) settings in \(index)")
    }
}
