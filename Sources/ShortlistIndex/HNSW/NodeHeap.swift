import ShortlistCore

/// A binary min-heap of (distance, node) pairs in flat buffers, for the graph searches' inner
/// loop (no allocation once warm). A max-heap is this heap over negated distances.
struct NodeHeap {
    private(set) var distances: UnsafeMutablePointer<Float>
    private(set) var nodes: UnsafeMutablePointer<UInt32>
    private(set) var count = 0
    private var capacity: Int

    init(capacity: Int) {
        self.capacity = max(capacity, 16)
        distances = .allocate(capacity: self.capacity)
        nodes = .allocate(capacity: self.capacity)
    }

    func deallocate() {
        distances.deallocate()
        nodes.deallocate()
    }

    @inline(__always) mutating func removeAll() { count = 0 }

    @inline(__always) var topDistance: Float { distances[0] }
    @inline(__always) var topNode: UInt32 { nodes[0] }

    @inline(__always)
    mutating func push(_ distance: Float, _ node: UInt32) {
        if count == capacity { grow() }
        var i = count
        count += 1
        while i > 0 {
            let parent = (i - 1) >> 1
            guard distance < distances[parent] else { break }
            distances[i] = distances[parent]
            nodes[i] = nodes[parent]
            i = parent
        }
        distances[i] = distance
        nodes[i] = node
    }

    @inline(__always)
    mutating func pop() {
        count -= 1
        guard count > 0 else { return }
        let d = distances[count], n = nodes[count]
        var i = 0
        while true {
            let l = 2 * i + 1
            if l >= count { break }
            let r = l + 1
            let c = (r < count && distances[r] < distances[l]) ? r : l
            guard distances[c] < d else { break }
            distances[i] = distances[c]
            nodes[i] = nodes[c]
            i = c
        }
        distances[i] = d
        nodes[i] = n
    }

    private mutating func grow() {
        let newCapacity = capacity * 2
        let d = UnsafeMutablePointer<Float>.allocate(capacity: newCapacity)
        let n = UnsafeMutablePointer<UInt32>.allocate(capacity: newCapacity)
        d.update(from: distances, count: count)
        n.update(from: nodes, count: count)
        distances.deallocate()
        nodes.deallocate()
        distances = d
        nodes = n
        capacity = newCapacity
    }
}
