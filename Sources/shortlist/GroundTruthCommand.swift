import ArgumentParser
import ShortlistCore
import ShortlistData
import ShortlistIndex

struct GroundTruthCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "groundtruth",
        abstract: "Compute the exact top-k base rows of every query (0-based rows, ties by lower row).",
        usage: "shortlist groundtruth --base <f> --queries <f> --metric <m> --output <f>",
        discussion: """
        Distances are ranked in double precision, so the result matches ANN-benchmarks' ground truth.

        Example:
          shortlist groundtruth --base base.fvecs --queries query.fvecs --k 100 \\
              --metric cosine --output groundtruth.ivecs
        """
    )

    @Option(help: "Base vectors.")
    var base: String

    @Option(help: "Query vectors.")
    var queries: String

    @Option(help: "Neighbours per query.")
    var k: Int = 100

    @Option(help: "Metric: l2, ip or cosine.")
    var metric: Metric

    @Option(help: "Where to write the ground truth (.ivecs).")
    var output: String

    @Option(help: "Threads (default: every core).")
    var threads: Int?

    func run() throws {
        Runtime.prepare(verbose: true)
        let baseVectors = try VectorFile.read(path: base, progress: Terminal.progress("reading \(base)")).matrix
        let queryVectors = try VectorFile.read(path: queries).matrix
        guard k <= baseVectors.count else { throw ValidationError("--k \(k) exceeds the \(baseVectors.count) base rows") }
        let watch = Stopwatch()
        let results = try ExactSearch.groundTruth(base: baseVectors, queries: queryVectors, metric: metric, k: k,
                                                  threads: Runtime.threads(threads), progress: Terminal.progress("searching"))
        try SearchCommand.idMatrix(results).write(to: output)
        print(String(format: "ground truth for %d queries × top-%d (%@) in %.2f s → %@", queryVectors.count, k, metric.description, watch.seconds, output))
    }
}
