import ArgumentParser
import Foundation
import ShortlistCore
import ShortlistData
import ShortlistIndex

struct SynthCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "synth",
        abstract: "Write seeded clustered vectors (base, queries, exact ground truth) for scale tests.",
        usage: "shortlist synth --count <n> --dimension <d> --output <folder> [<options>]",
        discussion: """
        A Gaussian mixture shaped like embeddings: cluster sizes follow a Zipf law (--skew), \
        centres are --separation times a cluster's own spread apart, and later components \
        shrink as real spectra do. Rows depend only on the seed and their number, whatever the \
        threads. Writes base.fvecs, query.fvecs and groundtruth.ivecs (exact top --k, 0-based \
        rows) into --output.

        Example:
          shortlist synth --count 1000000 --dimension 128 --output /tmp/synth-1m
        """
    )

    @Option(help: "Base vectors.") var count: Int
    @Option(help: "Components per vector.") var dimension: Int
    @Option(help: "Query vectors (the same mixture, other draws).") var queries: Int = 10_000
    @Option(help: "Mixture components.") var clusters: Int = 1_000
    @Option(help: "Centre spread relative to a cluster's own.") var separation: Float = 2
    @Option(help: "Zipf exponent of cluster sizes (0: equal).") var skew: Double = 0.5
    @Option(help: "Seed of centres, sizes and rows.") var seed: UInt64 = SeededGenerator.defaultSeed
    @Option(help: "Neighbours per query in the ground truth; 0 skips it.") var k: Int = 100
    @Option(help: "Metric of the ground truth: l2, ip or cosine.") var metric: Metric = .l2
    @Option(help: "Threads (default: every core).") var threads: Int?
    @Option(help: "Output folder.") var output: String

    func run() throws {
        Runtime.prepare(verbose: true)
        guard (1...2_000_000_000).contains(count), (1...10_000_000).contains(queries) else {
            throw ValidationError("--count must be 1 to 2000000000 and --queries 1 to 10000000")
        }
        guard (0...min(count, 10_000)).contains(k) else { throw ValidationError("--k must be 0 to \(min(count, 10_000))") }
        var mixture = SyntheticClusters(dimension: dimension, seed: seed)
        mixture.clusters = clusters
        mixture.separation = separation
        mixture.skew = skew
        do { try mixture.validate() } catch { throw ValidationError("\(error)") }
        let threads = Runtime.threads(self.threads)
        try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true)
        let watch = Stopwatch()
        let base = try mixture.generate(count: count, stream: 0, threads: threads)
        let queryVectors = try mixture.generate(count: queries, stream: 1, threads: threads)
        try VectorFile.write(base, to: output + "/base.fvecs")
        try VectorFile.write(queryVectors, to: output + "/query.fvecs")
        print(String(format: "wrote %d × %d base and %d query vectors in %.1f s → %@", count, dimension, queries, watch.seconds, output))
        guard k > 0 else { return }
        let truth = try ExactSearch.groundTruth(base: base, queries: queryVectors, metric: metric, k: k, threads: threads,
                                                progress: Terminal.progress("ground truth"))
        try SearchCommand.idMatrix(truth).write(to: output + "/groundtruth.ivecs")
        print(String(format: "exact top-%d (%@) of every query in %.1f s → %@/groundtruth.ivecs", k, metric.description, watch.seconds, output))
    }
}
