import Foundation

/// A fast, seedable random number generator (xoshiro256**, seeded through SplitMix64).
///
/// Every random choice in Shortlist takes an explicit seed, so builds, splits and sweeps are
/// reproducible: the same seed gives the same sequence on every machine.
public struct SeededGenerator: RandomNumberGenerator, Sendable {
    private var s0: UInt64, s1: UInt64, s2: UInt64, s3: UInt64

    /// The default seed used when the user gives none.
    public static let defaultSeed: UInt64 = 0x5EED_5107

    /// Creates a generator whose sequence is fixed by `seed`.
    public init(seed: UInt64) {
        var sm = seed
        func splitMix(_ x: inout UInt64) -> UInt64 {
            x &+= 0x9E37_79B9_7F4A_7C15
            var z = x
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        s0 = splitMix(&sm); s1 = splitMix(&sm); s2 = splitMix(&sm); s3 = splitMix(&sm)
    }

    /// The generator's whole state (four words), to checkpoint a run and resume it exactly.
    public var stateWords: [UInt64] { [s0, s1, s2, s3] }

    /// Restores a state from `stateWords`; nil unless there are four words, not all zero.
    public init?(stateWords w: [UInt64]) {
        guard w.count == 4, w.contains(where: { $0 != 0 }) else { return nil }
        s0 = w[0]; s1 = w[1]; s2 = w[2]; s3 = w[3]
    }

    @inlinable
    static func rotl(_ x: UInt64, _ k: UInt64) -> UInt64 { (x << k) | (x >> (64 - k)) }

    public mutating func next() -> UInt64 {
        let result = Self.rotl(s1 &* 5, 7) &* 9
        let t = s1 << 17
        s2 ^= s0; s3 ^= s1; s1 ^= s2; s0 ^= s3
        s2 ^= t
        s3 = Self.rotl(s3, 45)
        return result
    }

    /// A uniform Float in [0, 1).
    public mutating func nextUnitFloat() -> Float {
        Float(next() >> 40) * (1.0 / Float(1 << 24))
    }

    /// A uniform Double in [0, 1).
    public mutating func nextUnitDouble() -> Double {
        Double(next() >> 11) * (1.0 / Double(UInt64(1) << 53))
    }

    /// A standard normal sample (Box–Muller).
    public mutating func nextGaussian() -> Float {
        var u = nextUnitDouble()
        while u <= .leastNonzeroMagnitude { u = nextUnitDouble() }
        let v = nextUnitDouble()
        return Float((-2 * log(u)).squareRoot() * cos(2 * Double.pi * v))
    }
}

