import Foundation
import ShortlistCore

/// Seeded clustered vectors for scale tests (`shortlist synth`): a Gaussian mixture shaped like
/// embedding data rather than uniform noise, so graph and inverted-list indexes meet what they
/// meet on real catalogues — dense and sparse regions, hubs, and fewer effective dimensions than
/// stored ones.
///
/// - Cluster c has weight ∝ (c + 1)^−`skew` (a few big clusters, a long tail of small ones).
/// - Its centre has components N(0, `separation`² · s_j²) and its points add N(0, σ_c² · s_j²),
///   with σ_c drawn once per cluster from [0.5, 1.5].
/// - s_j = (1 + j / 16)^−½ shrinks later components, as the spectrum of real embeddings decays.
///
/// Row r depends only on (`seed`, r): the rows come out the same in any chunking and on any
/// number of threads, and a larger `count` extends a smaller one's rows.
public struct SyntheticClusters: Sendable {
    /// Components per vector. Default none: required.
    public var dimension: Int
    /// Mixture components. More clusters make a harder, more uniform catalogue. Default 1,000.
    public var clusters = 1_000
    /// Centre spread relative to a cluster's own (1 = clusters overlap heavily, 4 = well apart).
    /// Default 2.
    public var separation: Float = 2
    /// Zipf exponent of the cluster sizes (0 = equal sizes). Default 0.5.
    public var skew: Double = 0.5
    /// Fixes centres, sizes and every row.
    public var seed: UInt64

    public init(dimension: Int, seed: UInt64) {
        self.dimension = dimension
        self.seed = seed
    }

    /// A setting out of range, named with the allowed one.
    public struct SettingError: Error, CustomStringConvertible, Equatable {
        public var description: String
    }

    /// Throws `SettingError` for settings out of range.
    public func validate() throws {
        guard (1...4_096).contains(dimension) else { throw SettingError(description: "dimension must be 1 to 4096, not \(dimension)") }
        guard (1...1_000_000).contains(clusters) else { throw SettingError(description: "clusters must be 1 to 1000000, not \(clusters)") }
        guard separation.isFinite, separation >= 0, separation <= 100 else { throw SettingError(description: "separation must be 0 to 100, not \(separation)") }
        guard skew.isFinite, skew >= 0, skew <= 4 else { throw SettingError(description: "skew must be 0 to 4, not \(skew)") }
    }

    /// `count` rows (`count × dimension`, row-major): rows `first..<first + count` of the stream
    /// `stream` (0 for base vectors, 1 for queries: the same mixture, other draws), generated on
    /// `threads` threads.
    public func generate(count: Int, first: Int = 0, stream: UInt64 = 0, threads: Int = 1) throws -> VectorMatrix {
        try validate()
        let d = dimension
        let shape = (0..<d).map { Float(1 / (1 + Double($0) / 16).squareRoot()) }
        var g = SeededGenerator(seed: seed)
        var centres = [Float](repeating: 0, count: clusters * d)
        for c in 0..<clusters {
            for j in 0..<d { centres[c * d + j] = g.nextGaussian() * separation * shape[j] }
        }
        let spreads = (0..<clusters).map { _ in 0.5 + g.nextUnitFloat() }
        var cumulative = [Double](repeating: 0, count: clusters)
        var total = 0.0
        for c in 0..<clusters {
            total += 1 / pow(Double(c + 1), skew)
            cumulative[c] = total
        }
        let out = try VectorMatrix(count: count, dimension: d)
        let chunk = 4_096
        nonisolated(unsafe) let base = out.row(0)
        let (frozenCentres, frozenCumulative, frozenTotal, seed) = (centres, cumulative, total, self.seed)
        Parallel.forEach(chunkCount: (count + chunk - 1) / chunk, threads: threads) { c in
            for i in c * chunk..<min(count, (c + 1) * chunk) {
                let r = UInt64(first + i)
                var rg = SeededGenerator(seed: seed ^ (stream &* 0xA24B_AED4_963E_E407) ^ (r &* 0x9E37_79B9_7F4A_7C15))
                let u = rg.nextUnitDouble() * frozenTotal
                var lo = 0, hi = frozenCumulative.count - 1
                while lo < hi {
                    let mid = (lo + hi) / 2
                    if frozenCumulative[mid] < u { lo = mid + 1 } else { hi = mid }
                }
                let row = base + i * d
                for j in 0..<d { row[j] = frozenCentres[lo * d + j] + rg.nextGaussian() * spreads[lo] * shape[j] }
            }
        }
        return out
    }
}
