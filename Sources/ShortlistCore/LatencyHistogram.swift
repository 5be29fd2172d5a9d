/// A log-linear histogram of non-negative integer values (nanoseconds, by convention), in the
/// manner of HdrHistogram: values below 128 are exact, larger ones fall in buckets 1/64 of their
/// power of two wide, so every reported percentile is within 1.6% of a recorded value. Recording
/// is a few instructions and never allocates; histograms from several threads merge by adding.
public struct LatencyHistogram: Sendable, Equatable {
    /// Buckets: 128 exact values, then 64 per power of two up to 2⁶³.
    static let bucketCount = 58 * 64 + 64

    public private(set) var counts: [UInt64]
    public private(set) var count: UInt64 = 0
    public private(set) var sum: UInt64 = 0
    public private(set) var minimum: UInt64 = .max
    public private(set) var maximum: UInt64 = 0

    public init() {
        counts = [UInt64](repeating: 0, count: Self.bucketCount)
    }

    @inline(__always)
    static func bucket(of value: UInt64) -> Int {
        guard value >= 128 else { return Int(value) }
        let shift = 63 - value.leadingZeroBitCount - 6
        return shift * 64 + Int(value >> UInt64(shift))
    }

    /// The largest value that lands in `bucket`.
    static func highestValue(inBucket bucket: Int) -> UInt64 {
        guard bucket >= 128 else { return UInt64(bucket) }
        let shift = bucket / 64 - 1
        let top = UInt64(bucket - shift * 64)
        return ((top + 1) << UInt64(shift)) &- 1
    }

    /// Records one value.
    @inline(__always)
    public mutating func record(_ value: UInt64) {
        counts[Self.bucket(of: value)] &+= 1
        count &+= 1
        sum &+= value
        if value < minimum { minimum = value }
        if value > maximum { maximum = value }
    }

    /// Adds every value recorded in `other`.
    public mutating func merge(_ other: LatencyHistogram) {
        for i in counts.indices where other.counts[i] != 0 { counts[i] &+= other.counts[i] }
        count &+= other.count
        sum &+= other.sum
        minimum = Swift.min(minimum, other.minimum)
        maximum = Swift.max(maximum, other.maximum)
    }

    /// The value at quantile `q` (0...1): the highest value equivalent to the recorded value at
    /// that rank, capped at the true maximum; 0 when empty.
    public func value(atQuantile q: Double) -> UInt64 {
        guard count > 0 else { return 0 }
        let rank = Swift.max(1, UInt64((Swift.min(Swift.max(q, 0), 1) * Double(count)).rounded(.up)))
        var seen: UInt64 = 0
        for (i, c) in counts.enumerated() where c != 0 {
            seen &+= c
            if seen >= rank { return Swift.min(Self.highestValue(inBucket: i), maximum) }
        }
        return maximum
    }

    /// Mean of the recorded values (0 when empty).
    public var mean: Double { count == 0 ? 0 : Double(sum) / Double(count) }
}
