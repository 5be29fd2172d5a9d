import Foundation
import ShortlistCore
import ShortlistData

/// Where `--tune-budget` looks for iALS settings. Candidate 0 is the base configuration; then
/// the anchors (settings commonly used with implicit, so a search never misses them); every
/// later candidate draws its settings from its own seeded generator, so the first n candidates
/// are the same whatever the budget.
public struct ALSSearchSpace: Sendable, Equatable {
    /// Factor widths to try (default 64, 128, 256); one value fixes it.
    public var factors: [Int] = [64, 128, 256]
    /// λ, drawn log-uniformly (default 0.3 … 1000); a single point fixes it.
    public var regularization: ClosedRange<Float> = 0.3...1000
    /// α, drawn log-uniformly (default 1 … 100).
    public var alpha: ClosedRange<Float> = 1...100
    /// (factors, λ, α) tried right after the base, clamped to the space and without repeats:
    /// the grid recpeers tries for implicit.
    public var anchors: [Anchor] = [Anchor(factors: 64, regularization: 10, alpha: 40), Anchor(factors: 128, regularization: 100, alpha: 10),
                                    Anchor(factors: 128, regularization: 100, alpha: 40)]

    public struct Anchor: Sendable, Equatable {
        public var factors: Int
        public var regularization: Float
        public var alpha: Float
    }

    public init() {}

    /// The default space with the settings a user gave held fixed.
    public static func fixing(factors: Int?, regularization: Float?, alpha: Float?) -> ALSSearchSpace {
        var space = ALSSearchSpace()
        if let factors { space.factors = [factors] }
        if let regularization { space.regularization = regularization...regularization }
        if let alpha { space.alpha = alpha...alpha }
        return space
    }

    /// Candidate `index` around `base` (whose iterations, CG steps, seed and threads it keeps).
    public func candidate(_ index: Int, base: ImplicitALSConfiguration, seed: UInt64) -> ImplicitALSConfiguration {
        let fixed = placedAnchors(base: base)
        if index < fixed.count { return fixed[index] }
        var g = SeededGenerator(seed: seed &+ UInt64(index) &* 0x9E37_79B9_7F4A_7C15)
        var c = base
        c.factors = factors[Int(g.next() % UInt64(factors.count))]
        c.regularization = regularization.logUniform(&g)
        c.alpha = alpha.logUniform(&g)
        return c
    }

    /// The base, then each anchor within the space (fixed settings replace the anchor's), once.
    private func placedAnchors(base: ImplicitALSConfiguration) -> [ImplicitALSConfiguration] {
        var out = [base]
        for a in anchors {
            var c = base
            c.factors = factors.count == 1 ? factors[0] : a.factors
            c.regularization = regularization.clamped(a.regularization)
            c.alpha = alpha.clamped(a.alpha)
            if !out.contains(c) { out.append(c) }
        }
        return out
    }
}

extension ImplicitALSConfiguration {
    /// "factors 128, λ 10, α 40" — the settings tuning chooses among.
    public var summary: String { "factors \(factors), λ \(regularization), α \(alpha)" }
}
