/// One side feature of users or items, as a bag of category indices per entity: entity row `e`
/// has indices `indices[offsets[e] ..< offsets[e + 1]]`, each in `0 ..< vocabularySize`.
///
/// Single-valued features (a user's occupation) have one index per entity; multi-hot ones (a
/// movie's genres) several; hashed text (title tokens) one per distinct token bucket. An entity
/// may have none.
public struct FeatureField: Sendable, Equatable {
    /// What the feature is ("genres", "title", "occupation", …).
    public let name: String
    /// Number of distinct categories (or hash buckets).
    public let vocabularySize: Int
    /// `entityCount + 1` offsets into `indices`.
    public let offsets: [Int]
    /// Category indices, grouped by entity.
    public let indices: [Int32]

    public init(name: String, vocabularySize: Int, offsets: [Int], indices: [Int32]) {
        precondition(offsets.first == 0 && offsets.last == indices.count)
        precondition(indices.allSatisfy { $0 >= 0 && Int($0) < vocabularySize })
        self.name = name
        self.vocabularySize = vocabularySize
        self.offsets = offsets
        self.indices = indices
    }

    /// Builds the field from one bag of indices per entity (duplicates within a bag collapse).
    public init(name: String, vocabularySize: Int, bags: [[Int32]]) {
        var offsets = [0], indices: [Int32] = []
        for bag in bags {
            indices.append(contentsOf: Array(Set(bag)).sorted())
            offsets.append(indices.count)
        }
        self.init(name: name, vocabularySize: vocabularySize, offsets: offsets, indices: indices)
    }

    /// Number of entities.
    public var entityCount: Int { offsets.count - 1 }

    /// The category indices of entity row `e`.
    public func indices(of e: Int) -> ArraySlice<Int32> { indices[offsets[e]..<offsets[e + 1]] }
}
