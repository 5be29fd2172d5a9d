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
        discussion: """
        Single-query figures are one thread, one query per call, each timed; batch figures use --threads.

        Example:
          shortlist bench --base base.fvecs --queries query.fvecs --groundtruth gt.ivecs --metric cosine \\
            --spec HNSW16 --spec "HNSW16,SQfp16" --sweep "ef=16,32,64,128" --output bench/out/wordnet
        """
    )

    @Option(help: "Base vectors.") var base: String
    @Option(help: "Query vectors.") var queries: String
    @Option(help: "Ground truth (.ivecs); computed exactly when absent.") var groundtruth: String?
    @Option(help: "Metric: l2, ip or cosine.") var metric: String
    @Option(help: "Index spec (repeatable).") var spec: [String]
    @Option(help: "Search knob values, \"ef=16,32,64\" (HNSW) or \"nprobe=1,4,16\" (IVF).") var sweep: String = "ef=10,16,32,48,64,96,128,256"
    @Option(help: "IVF with Refine: rerank factor for every point of the sweep.") var rerank: Int?
    @Option(name: .customLong("ef-construction"), help: "HNSW build candidate list size.") var efConstruction: Int = 200
    @Option(help: "Neighbours per query.") var k: Int = 10
    @Option(help: "Threads for builds and batch searches (default: every core).") var threads: Int?
    @Option(help: "Seed for builds.") var seed: UInt64 = SeededGenerator.defaultSeed
    @Option(help: "Data set label for the rows (default: the base file's folder name).") var dataset: String?
    @Option(help: "Output folder for results.csv and summary.md.") var output: String

    func run() throws {
        Runtime.prepare(verbose: true)
        guard let metric = Metric(name: metric) else { throw ValidationError("unknown metric '\(self.metric)'") }
        let parts = sweep.split(separator: "=", maxSplits: 1).map(String.init)
        let values = parts.count == 2 ? parts[1].split(separator: ",").compactMap { Int($0) } : []
        guard parts.count == 2, ["ef", "nprobe"].contains(parts[0]), !values.isEmpty else {
            throw ValidationError("--sweep must look like \"ef=16,32,64\" or \"nprobe=1,4,16\"")
        }
        let points = values.map { parts[0] == "ef" ? SearchParameters(ef: $0) : SearchParameters(nprobe: $0, rerank: rerank) }
        for p in points { try p.validate() }
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
        let bench = Benchmark(dataset: label, base: baseVectors, queries: queryVectors, groundTruth: truth, metric: metric, k: k, threads: threads)
        var rows: [BenchmarkRow] = []
        print(BenchmarkRow.csvHeader)
        for spec in specs {
            try bench.run(spec: spec, efConstruction: efConstruction, sweep: points, seed: seed, scratchDirectory: output) { row in
                print(row.csvLine)
                rows.append(row)
            }
        }
        let csv = ([BenchmarkRow.csvHeader] + rows.map(\.csvLine)).joined(separator: "\n") + "\n"
        try Data(csv.utf8).write(to: URL(fileURLWithPath: output + "/results.csv"))
        var md = "| index | params | recall@\(k) | single q/s | p50 µs | p99 µs | batch q/s (\(threads) thr) | build s | MB resident | MB held | bytes/vector held |\n|---|---|---|---|---|---|---|---|---|---|---|\n"
        for r in rows {
            md += "| \(r.algo) | \(r.params) | \(String(format: "%.4f", r.recall)) | \(String(format: "%.0f", r.singleQPS)) | \(String(format: "%.0f", r.latencyP50Micros)) | \(String(format: "%.0f", r.latencyP99Micros)) | \(String(format: "%.0f", r.batchQPS)) | \(String(format: "%.2f", r.buildSeconds)) | \(String(format: "%.1f", r.indexResidentMB)) | \(String(format: "%.1f", r.indexMemoryMB)) | \(String(format: "%.0f", r.indexMemoryMB * 1_048_576 / Double(r.baseCount))) |\n"
        }
        try Data(md.utf8).write(to: URL(fileURLWithPath: output + "/summary.md"))
        print("wrote \(output)/results.csv and \(output)/summary.md")
    }
}
