import ArgumentParser
import Foundation
import ShortlistCore
import ShortlistData
import ShortlistBench
import ShortlistIndex

struct SearchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "search",
        abstract: "Search an index with a file of queries, or with one vector.",
        usage: "shortlist search --index <file> --queries <file> [<options>]",
        discussion: """
        Examples:
          shortlist search --index items.idx --queries query.fvecs --k 10 \\
              --output results.ivecs --groundtruth gt.ivecs
          shortlist search --index items.idx --vector '0.1,0.2,0.3' --k 5
          shortlist search --index hnsw.idx --queries query.fvecs --k 10 --ef 128 \\
              --groundtruth gt.ivecs
        """
    )

    @Option(help: "Index file to search.")
    var index: String

    @Option(help: "File of query vectors (.fvecs, .npy, …); every row is answered.")
    var queries: String?

    @Option(help: "One query vector as comma-separated numbers.")
    var vector: String?

    @Option(help: "Number of neighbours per query.")
    var k: Int = 10

    @Option(help: "HNSW: beam width at layer 0 (larger: higher recall, slower; at least k). Default 64.")
    var ef: Int?

    @Option(help: "IVF: inverted lists to scan (larger: higher recall, slower). Default 8.")
    var nprobe: Int?

    @Option(help: "IVF with Refine: re-rank the best k × rerank candidates exactly. Default 4.")
    var rerank: Int?

    @Option(help: "Where to write the results: .npy (queries × k records of id int64 and score float32, higher is better; id -1 and score -inf where fewer than k exist) or .ivecs (ids only, int32, -1 padding).")
    var output: String?

    @Option(help: "Ground-truth .ivecs to report recall@k against.")
    var groundtruth: String?

    @Option(help: "Search threads (default: every core).")
    var threads: Int?

    func validate() throws {
        guard (queries == nil) != (vector == nil) else { throw ValidationError("give exactly one of --queries or --vector") }
        guard k >= 1, k <= SearchLimits.maximumK else { throw ValidationError("--k must be between 1 and \(SearchLimits.maximumK)") }
        if let threads, threads < 0 { throw ValidationError("--threads must be 0 (every core) or more") }
        try SearchParameters(ef: ef, nprobe: nprobe, rerank: rerank).validate()
    }

    func run() throws {
        Runtime.prepare(verbose: true)
        let loadWatch = Stopwatch()
        let index = try IndexLoader.load(path: self.index)
        let loadSeconds = loadWatch.seconds
        if let vector {
            try searchOne(index, vector)
        } else if let queries {
            try searchFile(index, queries, loadSeconds: loadSeconds)
        }
    }

    private func searchOne(_ index: any VectorIndex, _ text: String) throws {
        let values = try VectorText.parse(text)
        let watch = Stopwatch()
        let hits = try index.search(values, k: k, parameters: SearchParameters(ef: ef, nprobe: nprobe, rerank: rerank))
        let micros = watch.seconds * 1e6
        print(Self.pad("rank", 4) + "  " + Self.pad("id", 20) + "  " + Self.pad("score", 12))
        for (rank, hit) in hits.enumerated() {
            let score = String(format: "%.6f", index.metric.score(fromDistance: hit.distance))
            print(Self.pad(String(rank + 1), 4) + "  " + Self.pad(String(hit.id), 20) + "  " + Self.pad(score, 12))
        }
        print(String(format: "%d hits in %.0f µs (%@ index, %@)", hits.count, micros, index.spec.description, index.metric.description))
    }

    private func searchFile(_ index: any VectorIndex, _ path: String, loadSeconds: Double) throws {
        let queries = try VectorFile.read(path: path).matrix
        let threads = Runtime.threads(self.threads)
        let watch = Stopwatch()
        let results = try index.search(queries, k: k, parameters: SearchParameters(ef: ef, nprobe: nprobe, rerank: rerank), threads: threads)
        let seconds = watch.seconds
        print(String(format: "%d queries, k=%d, %d thread%@: %.3f s, %.0f queries/s (index loaded in %.3f s)",
                     queries.count, k, threads, threads == 1 ? "" : "s", seconds, Double(queries.count) / seconds, loadSeconds))
        if let output {
            if output.lowercased().hasSuffix(".npy") {
                try Self.writeNPY(results, metric: index.metric, to: output)
            } else {
                try Self.idMatrix(results).write(to: output)
            }
            print("wrote \(output)")
        }
        if let groundtruth {
            let matrix = try Self.idMatrix(results)
            let rows = try IntMatrix.read(path: groundtruth)
            guard rows.count >= queries.count, rows.width >= k else {
                throw ValidationError("\(groundtruth) has \(rows.count) rows × \(rows.width); need \(queries.count) × \(k)")
            }
            // The ground truth names base rows; this index may answer with other ids (--ids).
            let (truth, translated) = try GroundTruthIds.translate(rows, for: index)
            if translated { print("ground truth rows mapped to the index's ids (it was built with --ids)") }
            if let warning = GroundTruthIds.warning(for: index) { print(warning) }
            print(String(format: "recall@%d = %.4f", k, Recall.at(k, results: matrix, groundTruth: truth)))
        }
    }

    /// Right-aligns `text` in `width` columns.
    static func pad(_ text: String, _ width: Int) -> String {
        String(repeating: " ", count: max(0, width - text.count)) + text
    }

    /// Results as `.npy` records (id int64, score float32; −1 / −inf padding); ids must fit in int64.
    static func writeNPY(_ results: SearchResults, metric: Metric, to path: String) throws {
        var ids = [Int64](repeating: -1, count: results.ids.count), scores = [Float](repeating: -.infinity, count: results.ids.count)
        for (i, id) in results.ids.enumerated() where id != SearchResults.noId {
            guard id <= UInt64(Int64.max) else { throw ValidationError("id \(id) does not fit in an int64 .npy column") }
            ids[i] = Int64(id)
            scores[i] = metric.score(fromDistance: results.distances[i])
        }
        try NPYFormat.writeHits(ids: ids, scores: scores, rows: results.queryCount, k: results.k, to: path)
    }

    /// Result ids as int32 rows for `.ivecs` (−1 padding); ids must fit in int32.
    static func idMatrix(_ results: SearchResults) throws -> IntMatrix {
        var values = [Int32](repeating: -1, count: results.queryCount * results.k)
        for (i, id) in results.ids.enumerated() where id != SearchResults.noId {
            guard id <= UInt64(Int32.max) else {
                throw ValidationError("id \(id) does not fit in an .ivecs file (int32); search with --vector to see such ids")
            }
            values[i] = Int32(id)
        }
        return IntMatrix(count: results.queryCount, width: results.k, values: values)
    }
}
