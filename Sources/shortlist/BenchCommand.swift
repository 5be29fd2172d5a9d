import ArgumentParser
import Foundation
import ShortlistBench
import ShortlistCore
import ShortlistData
import ShortlistIndex

struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Recall-versus-speed sweep: build each spec, then measure every ef (CSV with peers' columns + Markdown).",
        usage: "shortlist bench --base <f> --queries <f> --spec <s> --output <d> ...",
        discussion: """
        Single-query figures are one thread, one query per call, each timed; batch figures use --threads.

        Example:
          shortlist bench --base base.fvecs --queries query.fvecs \\
              --groundtruth gt.ivecs --metric cosine \\
            --spec HNSW16 --spec "HNSW16,SQ8" --sweep "ef=16,32,64,128" \\
              --output bench/out/wordnet
        """
    )

    @Option(help: "Base vectors.") var base: String
    @Option(help: "Query vectors.") var queries: String
    @Option(help: "Ground truth (.ivecs); computed exactly when absent.") var groundtruth: String?
    @Option(help: "Metric: l2, ip or cosine.") var metric: Metric
    @Option(help: "Index spec (repeatable).") var spec: [String]
    @Option(help: "Search knob values, \"ef=16,32,64\" (HNSW specs) or \"nprobe=1,4,16\" (IVF specs); repeatable, one per knob. Defaults: ef=10,16,32,48,64,96,128,256 and nprobe=1,2,4,8,16,32,64,128.") var sweep: [String] = []
    @Option(name: .customLong("sweep-file"), help: "A JSON sweep instead of --sweep: {\"ef\":[16,32],\"nprobe\":[1,4,16],\"rerank\":4}, any of the keys (see bench/sweeps/).") var sweepFile: String?
    @Option(help: "A peers CSV (../shared/tools/peers) whose points are drawn dashed beside ours and join the Pareto table.") var compare: String?
    @Option(help: "IVF with Refine: rerank factor for every point of the sweep.") var rerank: Int?
    @Option(name: .customLong("ef-construction"), help: "HNSW build candidate list size.") var efConstruction: Int = 200
    @Option(help: "Neighbours per query.") var k: Int = 10
    @Option(help: "Threads for builds and batch searches (default: every core).") var threads: Int?
    @Option(help: "Seed for builds.") var seed: UInt64 = SeededGenerator.defaultSeed
    @Option(help: "Data set label for the rows (default: the base file's folder name).") var dataset: String?
    @Option(help: "Timed passes over the queries per sweep point, taken in turn across the points; rows report each figure's median (1 to 100).") var `repeat`: Int = 1
    @Option(help: "Output folder for results.csv, results.json, summary.md and recall-qps.svg.") var output: String

    func run() throws {
        Runtime.prepare(verbose: true)
        guard (1...100).contains(`repeat`) else { throw ValidationError("--repeat must be 1 to 100, not \(`repeat`)") }
        var grid = try sweepFile.map { try SweepGrid(file: $0) } ?? SweepGrid()
        for text in sweep {
            let parts = text.split(separator: "=", maxSplits: 1).map(String.init)
            let values = parts.count == 2 ? parts[1].split(separator: ",").compactMap { Int($0) } : []
            guard parts.count == 2, !values.isEmpty, values.count == parts[1].split(separator: ",").count else {
                throw ValidationError("--sweep must look like \"ef=16,32,64\" or \"nprobe=1,4,16\"")
            }
            switch parts[0] {
            case "ef": grid.ef = values
            case "nprobe": grid.nprobe = values
            default: throw ValidationError("--sweep knobs are ef and nprobe, not '\(parts[0])'")
            }
        }
        if let rerank { grid.rerank = rerank }
        for p in grid.allPoints { try p.validate() }
        let peers = try compare.map { try BenchmarkReport.readPeers(path: $0) } ?? []
        let specs = try spec.map { try IndexSpec(parsing: $0) }
        let baseVectors = try VectorFile.read(path: base).matrix
        let queryVectors = try VectorFile.read(path: queries).matrix
        let threads = Runtime.threads(self.threads)
        let truth: IntMatrix
        if let groundtruth {
            truth = try IntMatrix.read(path: groundtruth)
        } else {
            truth = try SearchCommand.idMatrix(ExactSearch.groundTruth(base: baseVectors, queries: queryVectors, metric: metric, k: k, threads: threads))
        }
        guard truth.count >= queryVectors.count, truth.width >= k else { throw ValidationError("ground truth has \(truth.count) rows × \(truth.width)") }
        try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true)
        let label = dataset ?? URL(fileURLWithPath: base).deletingLastPathComponent().lastPathComponent
        var bench = Benchmark(dataset: label, base: baseVectors, queries: queryVectors, groundTruth: truth, metric: metric, k: k, threads: threads)
        bench.repeats = `repeat`
        var rows: [BenchmarkRow] = []
        print(BenchmarkRow.csvHeader)
        for spec in specs {
            try bench.run(spec: spec, efConstruction: efConstruction, sweep: grid.points(for: spec), seed: seed, scratchDirectory: output) { row in
                print(row.csvLine)
                rows.append(row)
            }
        }
        let report = BenchmarkReport(rows: rows, peers: peers, seed: seed, k: k)
        try report.write(to: output, title: "\(label): recall@\(k) against single-query speed")
        print("wrote \(output)/results.csv, results.json, summary.md and recall-qps.svg")
    }
}
