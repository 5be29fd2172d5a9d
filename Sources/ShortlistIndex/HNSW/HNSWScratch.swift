#if canImport(Glibc)
import Glibc
#endif
import ShortlistCore
import Synchronization

/// Working memory of one search or insertion: a visited set reset by bumping an epoch, the
/// candidate and result heaps, and small buffers. Reused across calls; one per thread at a time.
final class HNSWScratch {
    private(set) var visited: UnsafeMutablePointer<UInt16>
    private var visitedCapacity: Int
    private var epoch: UInt16 = 0
    /// Nodes to expand, nearest first.
    var candidates: NodeHeap
    /// Best nodes found, as a max-heap (negated distances).
    var results: NodeHeap
    /// Neighbour ids gathered for one batch of distances, and their distances.
    let batchNodes: UnsafeMutablePointer<UInt32>
    let batchDistances: UnsafeMutablePointer<Float>
    /// A copy of one adjacency list, read under its node's lock while the graph is built.
    let linkCopy: UnsafeMutablePointer<UInt32>
    /// The query in stored form (normalised, or augmented for inner product).
    let query: UnsafeMutablePointer<Float>
    /// One stored row decoded to float (neighbour selection compares stored rows).
    let rowBuffer: UnsafeMutablePointer<Float>
    /// Sorted candidate lists for neighbour selection.
    var sortedDistances: [Float] = []
    var sortedNodes: [UInt32] = []
    var selected: [UInt32] = []
    /// (distance, node) pairs of a full list being re-chosen when a new link arrives.
    var pairs: [(Float, UInt32)] = []
    /// Whether this search walks on 8-bit codes (`.sq8`, set by `prepareQuery`; never while building).
    var walksCodes = false
    /// The query in integer form for the code walk (`codeStride` values), and the affine map
    /// from its dot products to estimated distances.
    let codeQuery: UnsafeMutablePointer<Int16>
    var codeBase: Float = 0
    var codeFactor: Float = 0
    /// The walk's results being re-ranked on exact rows.
    private(set) var rerankNodes: UnsafeMutablePointer<UInt32>
    private(set) var rerankDistances: UnsafeMutablePointer<Float>
    private var rerankCapacity = 256

    init(rows: Int, maxDegree: Int, storedDimension: Int, codeStride: Int = 0) {
        visitedCapacity = max(rows, 1)
        visited = AlignedMemory.allocate(UInt16.self, count: visitedCapacity, repeating: 0)
        candidates = NodeHeap(capacity: 256)
        results = NodeHeap(capacity: 256)
        batchNodes = .allocate(capacity: maxDegree + 1)
        batchDistances = .allocate(capacity: maxDegree + 1)
        linkCopy = .allocate(capacity: maxDegree + 1)
        query = AlignedMemory.allocate(Float.self, count: storedDimension)
        rowBuffer = AlignedMemory.allocate(Float.self, count: storedDimension)
        codeQuery = AlignedMemory.allocate(Int16.self, count: max(codeStride, 1), repeating: 0)
        rerankNodes = .allocate(capacity: rerankCapacity)
        rerankDistances = .allocate(capacity: rerankCapacity)
    }

    /// Makes room for `n` results to re-rank.
    func reserveRerank(_ n: Int) {
        guard n > rerankCapacity else { return }
        rerankNodes.deallocate()
        rerankDistances.deallocate()
        rerankCapacity = max(n, rerankCapacity * 2)
        rerankNodes = .allocate(capacity: rerankCapacity)
        rerankDistances = .allocate(capacity: rerankCapacity)
    }

    deinit {
        AlignedMemory.free(visited)
        candidates.deallocate()
        results.deallocate()
        batchNodes.deallocate()
        batchDistances.deallocate()
        linkCopy.deallocate()
        AlignedMemory.free(query)
        AlignedMemory.free(rowBuffer)
        AlignedMemory.free(codeQuery)
        rerankNodes.deallocate()
        rerankDistances.deallocate()
    }

    /// Starts a new search over `rows` nodes and returns the epoch that marks "visited".
    @inline(__always)
    func beginSearch(rows: Int) -> UInt16 {
        if rows > visitedCapacity {
            visited = AlignedMemory.grow(visited, oldCount: visitedCapacity, newCount: max(rows, visitedCapacity * 2), fill: 0)
            visitedCapacity = max(rows, visitedCapacity * 2)
        }
        if epoch == UInt16.max {
            visited.update(repeating: 0, count: visitedCapacity)
            epoch = 0
        }
        epoch += 1
        candidates.removeAll()
        results.removeAll()
        return epoch
    }
}

/// Scratch buffers handed to concurrent searches: each call takes one and gives it back. A
/// thread gets back the buffer it used last when it is free, so the visited set (2 bytes per
/// row) and the heaps stay in that core's cache instead of bouncing between cores.
final class HNSWScratchPool: Sendable {
    private let free = Mutex<[(thread: pthread_t, scratch: HNSWScratch)]>([])
    private let make: @Sendable () -> HNSWScratch

    init(make: @escaping @Sendable () -> HNSWScratch) {
        self.make = make
    }

    func with<R>(_ body: (HNSWScratch) throws -> R) rethrows -> R {
        let me = pthread_self()
        let scratch = free.withLock { list -> HNSWScratch? in
            if let i = list.lastIndex(where: { pthread_equal($0.thread, me) != 0 }) { return list.remove(at: i).scratch }
            return list.popLast()?.scratch
        } ?? make()
        defer { free.withLock { $0.append((me, scratch)) } }
        return try body(scratch)
    }

    /// Drops pooled buffers (after the graph grew or was rebuilt).
    func removeAll() {
        free.withLock { $0.removeAll() }
    }
}
