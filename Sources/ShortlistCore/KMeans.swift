import CShortlistKernels
import Foundation

/// Settings of a k-means run.
public struct KMeansConfiguration: Sendable, Equatable {
    /// Number of centroids (FAISS's `k`, `nlist` for a coarse quantizer).
    public var centroidCount: Int
    /// Lloyd iterations. More lowers the objective further, with diminishing returns. Default 20.
    public var iterations: Int
    /// Training points used per centroid at most; larger sets are subsampled (FAISS uses 256).
    public var maximumPointsPerCentroid: Int
    /// Seed of the subsample, the initial centroids and empty-cluster repair.
    public var seed: UInt64
    /// Threads for the assignment step.
    public var threads: Int

    public init(centroidCount: Int, iterations: Int = 20, maximumPointsPerCentroid: Int = 256,
                seed: UInt64 = SeededGenerator.defaultSeed, threads: Int = 1) {
        self.centroidCount = centroidCount
        self.iterations = iterations
        self.maximumPointsPerCentroid = maximumPointsPerCentroid
        self.seed = seed
        self.threads = threads
    }
}

/// Errors from k-means.
public enum KMeansError: Error, Equatable, Sendable, CustomStringConvertible {
    /// There are fewer training points than centroids.
    case tooFewPoints(points: Int, centroids: Int)
    /// A setting is out of range.
    case invalidConfiguration(String)

    public var description: String {
        switch self {
        case let .tooFewPoints(points, centroids): return "k-means needs at least \(centroids) training points, got \(points)"
        case let .invalidConfiguration(reason): return "invalid k-means settings: \(reason)"
        }
    }
}

/// The result of k-means: `centroidCount × dimension` centroids and the objective (sum of
/// squared distances of the training points to their centroid) after each iteration's assignment.
public struct KMeansResult: @unchecked Sendable {
    public var centroids: VectorMatrix
    public var objectiveHistory: [Double]
    /// How many centroids were empty and re-seeded by splitting a large cluster, over the run.
    public var emptyClustersRepaired: Int
}

/// Lloyd's k-means for L2, as FAISS trains it: a seeded subsample of at most
/// `maximumPointsPerCentroid × k` points, initial centroids drawn from it at random, assignment
/// through `sgemm` in tiles (‖c‖² − 2 x·c), means recomputed in double precision, and each empty
/// cluster re-seeded by splitting a cluster chosen with probability proportional to its size.
public enum KMeans {
    public static func train(_ data: VectorMatrix, configuration c: KMeansConfiguration,
                             progress: ProgressHandler? = nil) throws -> KMeansResult {
        let k = c.centroidCount
        guard k >= 1, c.iterations >= 1, c.maximumPointsPerCentroid >= 1 else {
            throw KMeansError.invalidConfiguration("centroids \(k), iterations \(c.iterations)")
        }
        guard data.count >= k else { throw KMeansError.tooFewPoints(points: data.count, centroids: k) }
        var rng = SeededGenerator(seed: c.seed)
        let d = data.dimension
        // Subsample.
        let sample: VectorMatrix
        if data.count > k * c.maximumPointsPerCentroid {
            let picked = sampleIndices(count: k * c.maximumPointsPerCentroid, from: data.count, rng: &rng)
            sample = try VectorMatrix(count: picked.count, dimension: d)
            for (i, r) in picked.enumerated() { sample.row(i).update(from: data.row(r), count: d) }
        } else {
            sample = data
        }
        let n = sample.count
        let centroids = try VectorMatrix(count: k, dimension: d)
        for (i, r) in sampleIndices(count: k, from: n, rng: &rng).enumerated() { centroids.row(i).update(from: sample.row(r), count: d) }
        var assignment = [Int32](repeating: 0, count: n)
        var history: [Double] = []
        var repaired = 0
        let pointNorms = sample.squaredNorms()
        // Reused across iterations: fresh multi-megabyte arrays cost page faults and zeroing
        // (17% of an IVF980,PQ98 build before).
        var sums = [Double](repeating: 0, count: k * d)
        var sizes = [Int](repeating: 0, count: k)
        let buffers = AssignmentBuffers(points: n, centroids: k, threads: c.threads)
        for iteration in 0..<c.iterations {
            let objective = assign(sample, to: centroids, into: &assignment, pointNorms: pointNorms, threads: c.threads, buffers: buffers)
            history.append(objective)
            progress?(iteration + 1, c.iterations)
            // Update: means in double precision.
            sums.withUnsafeMutableBufferPointer { $0.update(repeating: 0) }
            sizes.withUnsafeMutableBufferPointer { $0.update(repeating: 0) }
            for i in 0..<n {
                let a = Int(assignment[i])
                sizes[a] += 1
                let x = sample.row(i)
                for j in 0..<d { sums[a * d + j] += Double(x[j]) }
            }
            for a in 0..<k where sizes[a] > 0 {
                let inv = 1 / Double(sizes[a])
                for j in 0..<d { centroids.row(a)[j] = Float(sums[a * d + j] * inv) }
            }
            repaired += splitLargeClusters(into: &sizes, centroids: centroids, rng: &rng)
        }
        return KMeansResult(centroids: centroids, objectiveHistory: history, emptyClustersRepaired: repaired)
    }

    /// Assigns every row of `points` to its nearest centroid (ties: the lower centroid), writing
    /// `assignment`; returns the sum of squared distances. `pointNorms` are the rows' ‖x‖².
    /// With `innerProduct`, "nearest" is the largest ⟨x, c⟩ and the distances are −⟨x, c⟩.
    @discardableResult
    public static func assign(_ points: VectorMatrix, to centroids: VectorMatrix, into assignment: inout [Int32],
                              pointNorms: [Float], threads: Int, innerProduct: Bool = false,
                              distances: UnsafeMutablePointer<Float>? = nil) -> Double {
        assign(points, to: centroids, into: &assignment, pointNorms: pointNorms, threads: threads, innerProduct: innerProduct,
               distances: distances, buffers: AssignmentBuffers(points: points.count, centroids: centroids.count, threads: threads))
    }

    /// `assign` with product buffers kept by the caller across calls (k-means' iterations): a
    /// fresh megabyte-sized buffer per call costs page faults and zeroing, which was 17% of an
    /// IVF980,PQ98 build (98 sub-quantizers × 20 iterations × 2 workers).
    static func assign(_ points: VectorMatrix, to centroids: VectorMatrix, into assignment: inout [Int32],
                       pointNorms: [Float], threads: Int, innerProduct: Bool = false,
                       distances: UnsafeMutablePointer<Float>? = nil, buffers: AssignmentBuffers) -> Double {
        let n = points.count, k = centroids.count, d = points.dimension
        precondition(assignment.count == n && (innerProduct || pointNorms.count == n) && centroids.dimension == d)
        if !innerProduct && d <= smallDimension {
            return assignSmallDimension(points, to: centroids, into: &assignment, pointNorms: pointNorms, threads: threads, distances: distances)
        }
        let centroidNorms = centroids.squaredNorms()
        let tile = AssignmentBuffers.tile
        precondition(buffers.floatsPerWorker >= min(tile, n) * k)
        let tiles = (n + tile - 1) / tile
        var partial = [Double](repeating: 0, count: tiles)
        assignment.withUnsafeMutableBufferPointer { out in
            partial.withUnsafeMutableBufferPointer { sums in
                let shared = AssignOutput(assignment: out.baseAddress!, sums: sums.baseAddress!, distances: distances)
                // One product buffer per worker, reused for its tiles (t = w, w + workers, …).
                let workers = buffers.workers
                Parallel.forEach(chunkCount: workers, threads: workers) { w in
                  let products = buffers.pointers[w]
                  for t in stride(from: w, to: tiles, by: workers) {
                    let first = t * tile, rows = min(tile, n - first)
                    BLAS.gemmABt(m: rows, n: k, k: d, a: points.row(first), lda: d, b: centroids.baseAddress, ldb: d, c: products, ldc: k)
                    var sum = 0.0
                    centroidNorms.withUnsafeBufferPointer { cn in
                        for i in 0..<rows {
                            var value: Float = 0
                            let best = innerProduct
                                ? sk_argmin_affine(products + i * k, nil, -1, k, &value)
                                : sk_argmin_affine(products + i * k, cn.baseAddress, -2, k, &value)
                            shared.assignment[first + i] = Int32(best)
                            let dist = innerProduct ? value : max(0, value + pointNorms[first + i])
                            shared.distances?[first + i] = dist
                            sum += Double(dist)
                        }
                    }
                    shared.sums[t] = sum
                  }
                }
            }
        }
        return partial.reduce(0, +)
    }

    /// Up to this dimension, L2 assignment computes distances directly (`sk_nearest_transposed`)
    /// instead of through sgemm: with d = 8 the product matrix is 32 times larger than the points,
    /// and writing and re-reading it cost more than the arithmetic.
    public static let smallDimension = 32

    /// L2 assignment for `d ≤ smallDimension`, in parallel over chunks of rows.
    static func assignSmallDimension(_ points: VectorMatrix, to centroids: VectorMatrix, into assignment: inout [Int32],
                                     pointNorms: [Float], threads: Int, distances: UnsafeMutablePointer<Float>?) -> Double {
        let n = points.count, d = points.dimension
        let table = TransposedCentroids(centroids)
        let chunk = 4096, chunks = (n + chunk - 1) / chunk
        var partial = [Double](repeating: 0, count: chunks)
        assignment.withUnsafeMutableBufferPointer { out in
            partial.withUnsafeMutableBufferPointer { sums in
                let shared = AssignOutput(assignment: out.baseAddress!, sums: sums.baseAddress!, distances: distances)
                Parallel.forEach(chunkCount: chunks, threads: threads) { c in
                    let first = c * chunk, rows = min(chunk, n - first)
                    withUnsafeTemporaryAllocation(of: Float.self, capacity: rows) { values in
                        table.nearest(points.row(first), count: rows, stride: d, into: shared.assignment + first, values: values.baseAddress!)
                        var sum = 0.0
                        for i in 0..<rows {
                            let dist = max(0, values[i] + pointNorms[first + i])
                            shared.distances?[first + i] = dist
                            sum += Double(dist)
                        }
                        shared.sums[c] = sum
                    }
                }
            }
        }
        return partial.reduce(0, +)
    }

    /// Re-seeds each empty centroid by splitting a cluster picked with probability ∝ its size:
    /// both halves get the centroid nudged by ±1/1024 of itself, and the size is halved.
    static func splitLargeClusters(into sizes: inout [Int], centroids: VectorMatrix, rng: inout SeededGenerator) -> Int {
        let k = sizes.count, d = centroids.dimension
        var repaired = 0
        for empty in 0..<k where sizes[empty] == 0 {
            // Only clusters of two or more points can be split.
            let total = sizes.reduce(0) { $0 + ($1 >= 2 ? $1 : 0) }
            guard total > 0 else { break }
            var pick = Int(rng.next() % UInt64(total))
            var donor = 0
            for candidate in 0..<k where sizes[candidate] >= 2 {
                if pick < sizes[candidate] {
                    donor = candidate
                    break
                }
                pick -= sizes[candidate]
            }
            let eps: Float = 1.0 / 1024
            for j in 0..<d {
                let v = centroids.row(donor)[j]
                centroids.row(empty)[j] = v * (1 + eps) + (j % 2 == 0 ? eps : -eps)
                centroids.row(donor)[j] = v * (1 - eps) - (j % 2 == 0 ? eps : -eps)
            }
            sizes[empty] = sizes[donor] / 2
            sizes[donor] -= sizes[empty]
            repaired += 1
        }
        return repaired
    }

    /// `count` distinct indices below `n`, in a seeded random order (partial Fisher–Yates).
    public static func sampleIndices(count: Int, from n: Int, rng: inout SeededGenerator) -> [Int] {
        precondition(count <= n)
        if count * 4 < n {
            var seen = Set<Int>(), out: [Int] = []
            out.reserveCapacity(count)
            while out.count < count {
                let r = Int(rng.next() % UInt64(n))
                if seen.insert(r).inserted { out.append(r) }
            }
            return out
        }
        var all = Array(0..<n)
        for i in 0..<count {
            let j = i + Int(rng.next() % UInt64(n - i))
            all.swapAt(i, j)
        }
        return Array(all.prefix(count))
    }
}

/// Per-worker `tile × centroids` product buffers for `KMeans.assign`.
final class AssignmentBuffers: @unchecked Sendable {
    static let tile = 1024
    let workers: Int
    let floatsPerWorker: Int
    let pointers: [UnsafeMutablePointer<Float>]

    init(points: Int, centroids: Int, threads: Int) {
        let tiles = (points + Self.tile - 1) / Self.tile
        workers = max(1, min(threads, tiles))
        floatsPerWorker = max(1, min(Self.tile, points) * centroids)
        pointers = (0..<workers).map { _ in .allocate(capacity: max(1, min(Self.tile, points) * centroids)) }
    }

    deinit { for p in pointers { p.deallocate() } }
}

/// Raw outputs shared by the assignment threads (each writes its own rows and tile sum).
private struct AssignOutput: @unchecked Sendable {
    let assignment: UnsafeMutablePointer<Int32>
    let sums: UnsafeMutablePointer<Double>
    let distances: UnsafeMutablePointer<Float>?
}
