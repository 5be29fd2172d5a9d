import CShortlistKernels
import ShortlistCore

/// Insertion: each row is linked into every layer up to its level, with the neighbour-selection
/// heuristic (Malkov & Yashunin, algorithm 4) and bidirectional links pruned by the same heuristic.
extension HNSWIndex {
    /// Inserts `range` (rows already stored, levels and upper storage laid out) on `threads`
    /// threads. One thread inserts in row order, so a fixed seed gives the same graph every time.
    func build(rows range: Range<Int>, threads: Int, progress: ProgressHandler?) throws {
        guard !range.isEmpty else { return }
        var first = range.lowerBound
        if entryPoint < 0 {
            insert(first)
            first += 1
        }
        let rest = first..<range.upperBound
        let chunk = 64
        let chunks = (rest.count + chunk - 1) / chunk
        let done = ProgressCounter(total: range.count, handler: progress)
        Parallel.forEach(chunkCount: chunks, threads: threads) { c in
            let start = rest.lowerBound + c * chunk
            let end = min(rest.upperBound, start + chunk)
            for row in start..<end { self.insert(row) }
            done.add(end - start)
        }
    }

    /// Links one row into the graph.
    func insert(_ row: Int) {
        let level = Int(levels[row])
        // A node that raises the top level holds the entry lock for its whole insertion
        // (rare: ~1 in m^maxLevel rows), so nobody descends from a half-linked entry point.
        sk_spin_lock(entrySpin)
        let (currentEntry, currentTop) = (entryPoint, maxLevel)
        let raisesTop = level > currentTop
        if !raisesTop { sk_spin_unlock(entrySpin) }
        defer {
            if raisesTop {
                entryPoint = Int32(row)
                maxLevel = level
                sk_spin_unlock(entrySpin)
            }
        }
        if currentEntry < 0 { return }
        scratchPool.with { scratch in
            scratch.walksCodes = false
            store.readScaledRow(row, into: scratch.query)
            let q = UnsafePointer(scratch.query)
            var entry = greedyDescent(q, from: Int(currentEntry), fromLevel: currentTop, toLevel: level + 1, locking: true,
                                      scratch: scratch)
            // The row's own lists are all written before any other node links to it, so no
            // concurrent insertion can reach it half-linked (a search entering through an empty
            // layer-0 list would leave the newcomer with a single link), and nothing another
            // thread adds to its lists is overwritten.
            var chosen: [(level: Int, neighbours: [UInt32])] = []
            for l in stride(from: min(level, currentTop), through: 0, by: -1) {
                searchLayer(q, entry: entry.node, entryDistance: entry.distance, ef: configuration.efConstruction, level: l,
                            scratch: scratch, locking: true, skipDeleted: false)
                drainResultsSorted(scratch)
                // A reused row can be reached through links other nodes still hold to it.
                if let own = scratch.sortedNodes.firstIndex(of: UInt32(row)) {
                    scratch.sortedNodes.remove(at: own)
                    scratch.sortedDistances.remove(at: own)
                }
                guard !scratch.sortedNodes.isEmpty else { continue }
                entry = Entry(node: Int(scratch.sortedNodes[0]), distance: scratch.sortedDistances[0])
                selectNeighbours(scratch, maximum: m)
                let selected = scratch.selected
                let list = links(row, l)
                sk_spin_lock(locks + row)
                list[0] = UInt32(selected.count)
                for (j, s) in selected.enumerated() { list[1 + j] = s }
                sk_spin_unlock(locks + row)
                chosen.append((l, selected))
            }
            for (l, selected) in chosen {
                for s in selected { connect(Int(s), to: row, level: l, scratch: scratch) }
            }
        }
    }

    /// Moves `scratch.results` into `sortedDistances`/`sortedNodes`, nearest first.
    func drainResultsSorted(_ scratch: HNSWScratch) {
        let n = scratch.results.count
        scratch.sortedDistances.removeAll(keepingCapacity: true)
        scratch.sortedNodes.removeAll(keepingCapacity: true)
        while scratch.results.count > 0 {
            scratch.sortedDistances.append(-scratch.results.topDistance)
            scratch.sortedNodes.append(scratch.results.topNode)
            scratch.results.pop()
        }
        assert(scratch.sortedNodes.count == n)
        scratch.sortedDistances.reverse()
        scratch.sortedNodes.reverse()
    }

    /// The heuristic: walk candidates nearest first and keep one only if it is closer to the base
    /// than to every node kept so far, up to `maximum`. It favours links in diverse directions.
    /// Reads `sortedDistances`/`sortedNodes`, writes `scratch.selected`.
    func selectNeighbours(_ scratch: HNSWScratch, maximum: Int) {
        scratch.selected.removeAll(keepingCapacity: true)
        let candidates = scratch.sortedNodes.count
        if candidates <= maximum {
            scratch.selected.append(contentsOf: scratch.sortedNodes)
            return
        }
        for i in 0..<candidates {
            let c = Int(scratch.sortedNodes[i])
            let dc = scratch.sortedDistances[i]
            let cRow = store.scaledRow(c, buffer: scratch.rowBuffer)
            var keep = true
            for s in scratch.selected where distance(cRow, Int(s)) < dc {
                keep = false
                break
            }
            if keep {
                scratch.selected.append(UInt32(c))
                if scratch.selected.count >= maximum { break }
            }
        }
    }

    /// Adds `newNode` to `node`'s list at `level`; a full list is re-chosen by the heuristic.
    func connect(_ node: Int, to newNode: Int, level: Int, scratch: HNSWScratch) {
        let capacity = level == 0 ? m0 : m
        sk_spin_lock(locks + node)
        defer { sk_spin_unlock(locks + node) }
        let list = links(node, level)
        let n = Int(list[0])
        // Already linked (a reused row that `node` linked to before): nothing to add.
        for j in 0..<n where list[1 + j] == UInt32(newNode) { return }
        if n < capacity {
            list[1 + n] = UInt32(newNode)
            list[0] = UInt32(n + 1)
            return
        }
        let base = store.scaledRow(node, buffer: scratch.rowBuffer)
        scratch.pairs.removeAll(keepingCapacity: true)
        for j in 0..<n { scratch.pairs.append((distance(base, Int(list[1 + j])), list[1 + j])) }
        scratch.pairs.append((distance(base, newNode), UInt32(newNode)))
        scratch.pairs.sort { $0.0 < $1.0 || ($0.0 == $1.0 && $0.1 < $1.1) }
        scratch.sortedDistances.removeAll(keepingCapacity: true)
        scratch.sortedNodes.removeAll(keepingCapacity: true)
        for (d, id) in scratch.pairs {
            scratch.sortedDistances.append(d)
            scratch.sortedNodes.append(id)
        }
        selectNeighbours(scratch, maximum: capacity)
        list[0] = UInt32(scratch.selected.count)
        for (j, s) in scratch.selected.enumerated() { list[1 + j] = s }
    }
}
