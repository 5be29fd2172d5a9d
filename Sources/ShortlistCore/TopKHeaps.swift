/// Bounded top-k selection for many queries at once: one max-heap of at most `k` (distance, id)
/// pairs per query, all in flat buffers (no allocation while searching).
///
/// Each heap keeps the `k` smallest distances seen; ties on distance go to the lower id. The
/// root is the worst kept pair, so `threshold(_:)` is the distance a candidate must beat.
public final class TopKHeaps: @unchecked Sendable {
    /// Number of independent heaps (queries).
    public let heapCount: Int
    /// Capacity of each heap.
    public let k: Int
    @usableFromInline let distances: UnsafeMutablePointer<Float>
    @usableFromInline let ids: UnsafeMutablePointer<UInt64>
    @usableFromInline var sizes: UnsafeMutablePointer<Int>

    /// Creates `heapCount` empty heaps of capacity `k` (k ≥ 1).
    public init(heapCount: Int, k: Int) {
        precondition(heapCount >= 0 && k >= 1)
        self.heapCount = heapCount
        self.k = k
        distances = .allocate(capacity: max(heapCount * k, 1))
        ids = .allocate(capacity: max(heapCount * k, 1))
        sizes = .allocate(capacity: max(heapCount, 1))
        sizes.initialize(repeating: 0, count: max(heapCount, 1))
    }

    deinit {
        distances.deallocate()
        ids.deallocate()
        sizes.deallocate()
    }

    /// Empties every heap.
    public func reset() {
        sizes.update(repeating: 0, count: heapCount)
    }

    /// Number of pairs held by heap `h`.
    @inlinable
    public func size(_ h: Int) -> Int { sizes[h] }

    /// The distance a new candidate must be below to enter heap `h` (+∞ until it is full).
    @inlinable
    public func threshold(_ h: Int) -> Float {
        sizes[h] < k ? .infinity : distances[h * k]
    }

    @inlinable
    static func worse(_ da: Float, _ ia: UInt64, _ db: Float, _ ib: UInt64) -> Bool {
        da > db || (da == db && ia > ib)
    }

    /// Offers a candidate to heap `h`; it is kept when it is among the `k` best so far.
    @inlinable
    public func push(_ h: Int, distance: Float, id: UInt64) {
        let d = distances + h * k
        let ix = ids + h * k
        var n = sizes[h]
        if n < k {
            // Sift up from the new leaf.
            var i = n
            while i > 0 {
                let parent = (i - 1) >> 1
                guard Self.worse(distance, id, d[parent], ix[parent]) else { break }
                d[i] = d[parent]; ix[i] = ix[parent]
                i = parent
            }
            d[i] = distance; ix[i] = id
            n += 1
            sizes[h] = n
            return
        }
        guard Self.worse(d[0], ix[0], distance, id) else { return }
        // Replace the root and sift down.
        var i = 0
        while true {
            let l = 2 * i + 1
            if l >= n { break }
            var c = l
            let r = l + 1
            if r < n && Self.worse(d[r], ix[r], d[l], ix[l]) { c = r }
            guard Self.worse(d[c], ix[c], distance, id) else { break }
            d[i] = d[c]; ix[i] = ix[c]
            i = c
        }
        d[i] = distance; ix[i] = id
    }

    /// The contents of heap `h`, best first.
    public func sorted(_ h: Int) -> [Neighbor] {
        var out = [Neighbor]()
        out.reserveCapacity(sizes[h])
        for i in 0..<sizes[h] { out.append(Neighbor(id: ids[h * k + i], distance: distances[h * k + i])) }
        out.sort()
        return out
    }
}
