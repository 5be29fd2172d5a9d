import Foundation
import ShortlistCore
import ShortlistData
import ShortlistIndex

/// Finds, for an index, how recall and speed move with its search knobs (`shortlist tune`):
/// every candidate setting is measured on the tuning queries (single queries, one thread), and
/// the table is stored in the index file so searches can ask for a target recall.
public enum Tuner {
    /// Settings worth measuring: `ef` from k up to 1,024 for HNSW; for IVF, `nprobe` in steps of
    /// about 1.26× (three per doubling) up to the number of lists, with `rerank` 1–16 when the
    /// index refines. Empty for Flat. The steps are fine enough that the chosen setting's recall
    /// lands close to the target rather than a whole doubling above it.
    public static func candidates(for spec: IndexSpec, k: Int) -> [[SearchParameters]] {
        switch spec {
        case .flat:
            return []
        case .hnsw:
            let efs = [10, 12, 16, 20, 24, 28, 32, 40, 48, 64, 80, 96, 128, 160, 192, 256, 384, 512, 768, 1024].filter { $0 >= k }
            return [efs.map { SearchParameters(ef: $0) }]
        case let .ivfpq(nlist, _, refine, _, _, _):
            // Three steps per doubling (1, 2, 3, 4, 5, 6, 8, 10, 13, 16, 20, 25, 32, …).
            var probes: [Int] = []
            for i in 0..<(3 * 17) {
                let p = Int(pow(2, Double(i) / 3).rounded())
                if p <= nlist, probes.last != p { probes.append(p) }
            }
            let reranks: [Int?] = refine ? [1, 2, 4, 8, 16] : [nil]
            return reranks.map { r in probes.map { SearchParameters(nprobe: $0, rerank: r) } }
        }
    }

    /// Measures the candidates on `queries` (with `groundTruth` rows aligned to them). Along each
    /// ladder of settings it stops once recall passes 0.9995 or stops improving.
    public static func tune(index: any VectorIndex, queries: VectorMatrix, groundTruth: IntMatrix, k: Int,
                            report: (TuningTable.Entry) -> Void = { _ in }) throws -> TuningTable {
        let ladders = candidates(for: index.spec, k: k)
        guard !ladders.isEmpty else { throw IndexError.invalidSpec(index.spec.description, reason: "an exact index has no knobs to tune") }
        var bench = Benchmark(dataset: "", base: queries, queries: queries, groundTruth: groundTruth, metric: index.metric, k: k, threads: 1)
        bench.warmupQueries = min(200, queries.count)
        var entries: [TuningTable.Entry] = []
        for ladder in ladders {
            var previous = -1.0
            for parameters in ladder {
                let r = try bench.timeSingleQueries(index, parameters: parameters)
                let entry = TuningTable.Entry(parameters: parameters, recall: r.recall, microseconds: r.mean)
                entries.append(entry)
                report(entry)
                if r.recall >= 0.9995 || r.recall < previous + 0.0005 && previous >= 0.99 { break }
                previous = r.recall
            }
        }
        return TuningTable(k: k, entries: entries)
    }

    /// Recall@k of `parameters` on `queries` (all cores).
    public static func recall(index: any VectorIndex, queries: VectorMatrix, groundTruth: IntMatrix, k: Int, parameters: SearchParameters) throws -> Double {
        let results = try index.search(queries, k: k, parameters: parameters, threads: Parallel.availableCores)
        let ids = results.ids.map { $0 == SearchResults.noId ? -1 : Int32(truncatingIfNeeded: $0) }
        return Recall.at(k, results: IntMatrix(count: results.queryCount, width: k, values: ids), groundTruth: groundTruth)
    }
}
