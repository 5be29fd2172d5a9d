import CShortlistKernels
import Foundation
import ShortlistCore

/// Per-code cost of the product-quantization scans, on the same number of codes and
/// sub-quantizers, the way IVF-PQ uses them: the 8-bit scan writes every distance from a float
/// table and keeps those below a threshold; the 4-bit fast scan sums byte tables with `pshufb`
/// and keeps those at or below a 16-bit threshold. Both thresholds keep about 1% of codes.
public struct ScanBenchmark: Sendable {
    /// Sub-quantizers per code.
    public var m: Int
    /// Codes per scan (one long list; 1M codes of m = 16 is 16 MB at 8 bits, 8 MB at 4 bits).
    public var codes: Int
    /// Timed repetitions; the median is reported.
    public var repeats: Int
    public var seed: UInt64

    public init(m: Int, codes: Int = 1_000_000, repeats: Int = 7, seed: UInt64 = SeededGenerator.defaultSeed) {
        self.m = m
        self.codes = codes
        self.repeats = repeats
        self.seed = seed
    }

    /// Median nanoseconds per code of each scan, and codes kept (to show the selections match in size).
    public struct Result: Sendable {
        public var m: Int
        public var eightBitNanoseconds: Double
        public var fourBitNanoseconds: Double
        public var eightBitKept: Int
        public var fourBitKept: Int
        public var speedup: Double { eightBitNanoseconds / fourBitNanoseconds }
    }

    public func run() -> Result {
        var rng = SeededGenerator(seed: seed)
        let n = codes, mpad = (m + 1) & ~1
        let table = (0..<m * 256).map { _ in rng.nextUnitFloat() }
        let codes8 = (0..<n * m).map { _ in UInt8.random(in: 0...255, using: &rng) }
        let lut = (0..<mpad * 16).map { $0 < m * 16 ? UInt8.random(in: 0...255, using: &rng) : 0 }
        let packed = (0..<(n + 31) / 32 * mpad * 16).map { _ in UInt8.random(in: 0...255, using: &rng) }
        var distances = [Float](repeating: 0, count: n), index = [UInt32](repeating: 0, count: n), sums = [UInt16](repeating: 0, count: n)
        // Thresholds near the 1% quantile of each scan's values.
        sk_pq8_scan(table, m, codes8, n, 0, nil, &distances)
        let threshold8 = distances.sorted()[n / 100]
        _ = sk_pq4_scan(lut, mpad, packed, n, UInt16.max, &index, &sums)
        let threshold4 = sums.sorted()[n / 100]
        var kept8 = 0, kept4 = 0
        let eight = Self.medianNanoseconds(repeats: repeats) {
            sk_pq8_scan(table, m, codes8, n, 0, nil, &distances)
            kept8 = sk_select_below(distances, n, threshold8, &index)
        }
        let four = Self.medianNanoseconds(repeats: repeats) {
            kept4 = sk_pq4_scan(lut, mpad, packed, n, threshold4, &index, &sums)
        }
        return Result(m: m, eightBitNanoseconds: eight / Double(n), fourBitNanoseconds: four / Double(n), eightBitKept: kept8, fourBitKept: kept4)
    }

    static func medianNanoseconds(repeats: Int, _ body: () -> Void) -> Double {
        body()
        var times: [Double] = []
        for _ in 0..<max(1, repeats) {
            let start = DispatchTime.now().uptimeNanoseconds
            body()
            times.append(Double(DispatchTime.now().uptimeNanoseconds - start))
        }
        return times.sorted()[times.count / 2]
    }
}
