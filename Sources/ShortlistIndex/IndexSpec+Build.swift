import ShortlistCore

extension IndexSpec {
    /// Builds an index of this kind over `vectors` (count × dimension, row-major).
    /// - Parameters:
    ///   - ids: external id of each row (default row numbers).
    ///   - efConstruction: HNSW's candidate list while inserting (default 200).
    ///   - trainSize: IVF-PQ's training sample (default min(count, max(64·nlist, 65536))).
    ///   - localityOrder: HNSW renumbers rows for locality (default true; `HNSWConfiguration`).
    ///   - threads, seed: build threads and the seed of every random choice.
    public func build(metric: Metric, vectors: VectorMatrix, ids: [UInt64]? = nil, efConstruction: Int = 200,
                      trainSize: Int? = nil, localityOrder: Bool = true, threads: Int, seed: UInt64 = SeededGenerator.defaultSeed,
                      progress: ProgressHandler? = nil) throws -> any VectorIndex {
        switch self {
        case .flat:
            return try FlatIndex(metric: metric, vectors: vectors, ids: ids)
        case let .hnsw(m, storage):
            let configuration = HNSWConfiguration(m: m, efConstruction: efConstruction, seed: seed, storage: storage,
                                                  localityOrder: localityOrder)
            return try HNSWIndex(metric: metric, vectors: vectors, ids: ids, configuration: configuration,
                                 threads: threads, progress: progress)
        case let .ivfpq(nlist, m, refine, opq, bits, coarseHNSW):
            let configuration = IVFPQConfiguration(nlist: nlist, m: m, bits: bits, refine: refine, opq: opq,
                                                   coarseHNSW: coarseHNSW, trainSize: trainSize, seed: seed)
            return try IVFPQIndex(metric: metric, vectors: vectors, ids: ids, configuration: configuration,
                                  threads: threads, progress: progress)
        }
    }
}
