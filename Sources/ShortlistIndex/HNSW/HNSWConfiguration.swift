import ShortlistCore

/// Build settings of an HNSW graph (Malkov & Yashunin). Per-query `ef` is not here: it travels
/// with each search in `SearchParameters`.
public struct HNSWConfiguration: Sendable, Equatable {
    /// Links per node on the upper layers; layer 0 keeps up to 2·m. Larger m gives higher recall
    /// at a given `ef`, at the cost of memory (4·2m bytes per vector) and build time. Default 16.
    public var m: Int
    /// Candidate list size while inserting. Larger builds a better graph, more slowly. Default 200.
    public var efConstruction: Int
    /// Seed of the level sampling; a fixed seed and one build thread give the same graph every time.
    public var seed: UInt64
    /// How vectors are held: `.float32` (exact, default), `.float16` (half the memory, faster
    /// searches where memory bandwidth bounds them; spec suffix `,SQfp16`), or `.sq8` (the walk
    /// on 8-bit codes, re-ranked on float16 rows: 3 bytes per component, the fastest walk;
    /// `,SQ8`).
    public var storage: VectorStorage
    /// Renumber rows after the build in breadth-first order from the entry point, so a node's
    /// neighbours sit near it in memory: searches 24–28% faster at 1M × 128, 0–6% at 60k–107k
    /// rows (`bench/row-order`); answers are the same. Default true; false keeps the input's order.
    public var localityOrder: Bool

    public init(m: Int = 16, efConstruction: Int = 200, seed: UInt64 = SeededGenerator.defaultSeed, storage: VectorStorage = .float32,
                localityOrder: Bool = true) {
        self.localityOrder = localityOrder
        self.m = m
        self.efConstruction = efConstruction
        self.seed = seed
        self.storage = storage
    }

    /// Allowed values of `m`.
    public static let mRange = 2...256
    /// Allowed values of `efConstruction`.
    public static let efConstructionRange = 1...10_000

    /// Throws `IndexError.invalidParameter` for a setting out of range.
    public func validate() throws {
        guard Self.mRange.contains(m) else { throw IndexError.invalidParameter(name: "m", value: m, allowed: Self.mRange) }
        guard Self.efConstructionRange.contains(efConstruction) else {
            throw IndexError.invalidParameter(name: "efConstruction", value: efConstruction, allowed: Self.efConstructionRange)
        }
    }
}
