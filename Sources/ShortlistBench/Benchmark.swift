import Foundation
import ShortlistCore
import ShortlistData
import ShortlistIndex

/// A recall-versus-speed sweep: build each index spec once, then for every setting of its search
/// knob measure recall@k, single-query speed on one thread (queries/s, mean, p50, p99 latency)
/// and batch queries/s on all threads; plus build time, file size and resident memory.
public struct Benchmark {
    public var dataset: String
    public var base: VectorMatrix
    public var queries: VectorMatrix
    public var groundTruth: IntMatrix
    public var metric: Metric
    public var k: Int
    /// Threads for builds and batch searches.
    public var threads: Int
    /// Untimed queries run before each timed sweep point.
    public var warmupQueries = 500
    /// Timed passes over the queries per sweep point (`bench --repeat`); the rows report the
    /// median of each figure. The passes go round the points in turn, so a slow spell of the
    /// machine falls on every point alike instead of on one. Default 1.
    public var repeats = 1

    public init(dataset: String, base: VectorMatrix, queries: VectorMatrix, groundTruth: IntMatrix, metric: Metric, k: Int, threads: Int) {
        self.dataset = dataset
        self.base = base
        self.queries = queries
        self.groundTruth = groundTruth
        self.metric = metric
        self.k = k
        self.threads = threads
    }

    /// Builds `spec`, saves and reloads it (so memory is what a loaded index holds), then measures
    /// every point of `sweep` (Flat: one point). `report` receives each row as soon as it is measured.
    public func run(spec: IndexSpec, efConstruction: Int, sweep: [SearchParameters], seed: UInt64,
                    scratchDirectory: String, report: (BenchmarkRow) -> Void) throws {
        let copy = try VectorMatrix(dimension: base.dimension, values: base.flatArray())
        let start = DispatchTime.now().uptimeNanoseconds
        let built = try spec.build(metric: metric, vectors: copy, efConstruction: efConstruction, threads: threads, seed: seed)
        var buildParams = ""
        switch spec {
        case .flat: break
        case let .hnsw(m, _): buildParams = "M=\(m),efC=\(efConstruction)"
        case let .ivfpq(nlist, m, _, _, _, _): buildParams = "nlist=\(nlist),m=\(m)"
        }
        let buildSeconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        let path = scratchDirectory + "/bench-\(ProcessInfo.processInfo.processIdentifier).idx"
        try built.save(to: path)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let indexBytes = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
        let residentBefore = MemoryProbe.residentBytes()
        let loadStart = DispatchTime.now().uptimeNanoseconds
        let index = try IndexLoader.load(path: path)
        let loadSeconds = Double(DispatchTime.now().uptimeNanoseconds - loadStart) / 1e9
        let resident = Double(max(0, MemoryProbe.residentBytes() - residentBefore)) / 1_048_576
        let points: [SearchParameters] = spec == .flat ? [SearchParameters()] : sweep
        var passes = [[SingleQueryResult]](repeating: [], count: points.count)
        for _ in 0..<max(1, repeats) {
            for (i, parameters) in points.enumerated() { passes[i].append(try timeSingleQueries(index, parameters: parameters)) }
        }
        let residentAfter = Double(max(0, MemoryProbe.residentBytes() - residentBefore)) / 1_048_576
        for (parameters, measured) in zip(points, passes) {
            let single = SingleQueryResult.median(of: measured)
            let batchStart = DispatchTime.now().uptimeNanoseconds
            _ = try index.search(queries, k: k, parameters: parameters, threads: threads)
            let batchSeconds = Double(DispatchTime.now().uptimeNanoseconds - batchStart) / 1e9
            var row = BenchmarkRow(
                dataset: dataset, algo: "shortlist-" + spec.description.lowercased(), params: Self.label(parameters),
                threads: threads, k: k, metric: metric.rawValue, baseCount: base.count, dimension: base.dimension,
                queryCount: queries.count, buildParams: buildParams, buildSeconds: buildSeconds, indexBytes: indexBytes,
                indexResidentMB: resident, indexMemoryMB: Double(index.memoryBytes) / 1_048_576, recall: single.recall, singleQPS: single.qps, latencyMeanMicros: single.mean,
                latencyP50Micros: single.p50, latencyP99Micros: single.p99, batchQPS: Double(queries.count) / batchSeconds,
                lib: "shortlist 0.1.0", timestamp: ISO8601DateFormatter().string(from: Date()))
            row.loadSeconds = loadSeconds
            row.residentAfterQueriesMB = residentAfter
            report(row)
        }
    }

    /// "ef=64", "nprobe=16,rerank=4", or "" for defaults.
    public static func label(_ p: SearchParameters) -> String {
        [p.ef.map { "ef=\($0)" }, p.nprobe.map { "nprobe=\($0)" }, p.rerank.map { "rerank=\($0)" }].compactMap { $0 }.joined(separator: ",")
    }

    struct SingleQueryResult {
        var recall, qps, mean, p50, p99: Double

        /// Each figure's median over the passes (the upper middle for an even count).
        static func median(of passes: [SingleQueryResult]) -> SingleQueryResult {
            func mid(_ key: KeyPath<SingleQueryResult, Double>) -> Double {
                let sorted = passes.map { $0[keyPath: key] }.sorted()
                return sorted[sorted.count / 2]
            }
            return SingleQueryResult(recall: mid(\.recall), qps: mid(\.qps), mean: mid(\.mean), p50: mid(\.p50), p99: mid(\.p99))
        }
    }

    /// Every query once, one at a time on this thread, each timed; recall from the same answers.
    func timeSingleQueries(_ index: any VectorIndex, parameters: SearchParameters) throws -> SingleQueryResult {
        let n = queries.count
        var row = [Float](repeating: 0, count: queries.dimension)
        func load(_ q: Int) {
            row.withUnsafeMutableBufferPointer { $0.baseAddress!.update(from: queries.row(q), count: queries.dimension) }
        }
        for q in 0..<min(warmupQueries, n) {
            load(q)
            _ = try index.search(row, k: k, parameters: parameters)
        }
        var latencies = [Double](repeating: 0, count: n)
        var hits = 0
        var total: UInt64 = 0
        for q in 0..<n {
            load(q)
            let t0 = DispatchTime.now().uptimeNanoseconds
            let found = try index.search(row, k: k, parameters: parameters)
            let dt = DispatchTime.now().uptimeNanoseconds - t0
            total += dt
            latencies[q] = Double(dt) / 1000
            let truth = Set(groundTruth[row: q].prefix(k))
            hits += found.prefix(k).filter { truth.contains(Int32(truncatingIfNeeded: $0.id)) }.count
        }
        latencies.sort()
        return SingleQueryResult(recall: Double(hits) / Double(n * k), qps: Double(n) / (Double(total) / 1e9),
                                 mean: latencies.reduce(0, +) / Double(n),
                                 p50: latencies[n / 2], p99: latencies[min(n - 1, n * 99 / 100)])
    }
}
