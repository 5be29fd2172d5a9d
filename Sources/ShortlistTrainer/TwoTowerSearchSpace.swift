import ShortlistModel
import Foundation
import ShortlistCore
import ShortlistData

/// Where `--tune-budget` looks for two-tower settings: the few that matter (width, temperature,
/// learning rate, weight decay, pooled user history, item bias, extra negatives). Candidate 0 is
/// the base configuration; then the anchors; every later candidate draws its settings from its
/// own seeded generator, so the first n candidates are the same whatever the budget. A setting
/// given on the command line is held fixed (one value, or a single-point range).
public struct TwoTowerSearchSpace: Sendable, Equatable {
    /// Embedding widths (default 64, 128).
    public var dimensions: [Int] = [64, 128]
    /// τ, log-uniform (default 0.05 … 0.3): lower sharpens the softmax; dense, popular-item data
    /// prefers higher.
    public var temperature: ClosedRange<Float> = 0.05...0.3
    /// Learning rate, log-uniform (default 0.002 … 0.015).
    public var learningRate: ClosedRange<Float> = 0.002...0.015
    /// Decoupled weight decay (default 0, 0.01, 0.03, 0.1, 0.3).
    public var weightDecay: [Float] = [0, 0.01, 0.03, 0.1, 0.3]
    /// `--user-history` (default off, on).
    public var userHistory: [Bool] = [false, true]
    /// `--item-bias` (default off, on).
    public var itemBias: [Bool] = [false, true]
    /// Extra uniform negatives per step (default 0, 0, 1024: off twice as often).
    public var negatives: [Int] = [0, 0, 1024]
    /// Settings tried right after the base, with held settings put in and without repeats: the
    /// configurations that did best on some of the six catalogues of bench/README.md
    /// ("Defaults"): Gowalla's (sharper τ, 64 wide), a quarter of Gowalla's users' (τ 0.15),
    /// and the recommended one (for a base that differs from it).
    public var anchors: [Anchor] = [
        Anchor(dimension: 64, temperature: 0.1, learningRate: 5e-3, weightDecay: 0, userHistory: true, itemBias: true, negatives: 0),
        Anchor(dimension: 128, temperature: 0.15, learningRate: 5e-3, weightDecay: 0.05, userHistory: true, itemBias: true, negatives: 0),
        Anchor(dimension: 128, temperature: 0.2, learningRate: 5e-3, weightDecay: 0.1, userHistory: true, itemBias: true, negatives: 0),
    ]

    public struct Anchor: Sendable, Equatable {
        public var dimension: Int
        public var temperature: Float
        public var learningRate: Float
        public var weightDecay: Float
        public var userHistory: Bool
        public var itemBias: Bool
        public var negatives: Int
    }

    public init() {}

    /// Candidate `index` around `base` (whose other settings — epochs, batch, features,
    /// history length, seed, threads — it keeps).
    public func candidate(_ index: Int, base: TwoTowerConfiguration) -> TwoTowerConfiguration {
        let placed = placedAnchors(base: base)
        if index < placed.count { return placed[index] }
        var g = SeededGenerator(seed: base.seed &+ UInt64(index) &* 0x9E37_79B9_7F4A_7C15)
        func pick<T>(_ values: [T]) -> T { values[Int(g.next() % UInt64(values.count))] }
        var c = base
        c.dimension = pick(dimensions)
        c.temperature = temperature.logUniform(&g)
        c.learningRate = learningRate.logUniform(&g)
        c.weightDecay = pick(weightDecay)
        c.userHistory = pick(userHistory)
        c.itemBias = pick(itemBias)
        c.uniformNegatives = pick(negatives)
        return c
    }

    private func placedAnchors(base: TwoTowerConfiguration) -> [TwoTowerConfiguration] {
        var out = [base]
        for a in anchors {
            var c = base
            c.dimension = dimensions.count == 1 ? dimensions[0] : a.dimension
            c.temperature = temperature.clamped(a.temperature)
            c.learningRate = learningRate.clamped(a.learningRate)
            c.weightDecay = weightDecay.count == 1 ? weightDecay[0] : a.weightDecay
            c.userHistory = userHistory.count == 1 ? userHistory[0] : a.userHistory
            c.itemBias = itemBias.count == 1 ? itemBias[0] : a.itemBias
            c.uniformNegatives = negatives.count == 1 ? negatives[0] : a.negatives
            if !out.contains(c) { out.append(c) }
        }
        return out
    }
}

extension TwoTowerConfiguration {
    /// The settings tuning chooses among, as flags: "--dim 128 --temperature 0.2 …".
    public var tuningSummary: String {
        var parts = ["--dim \(dimension)", "--temperature \(temperature)", "--lr \(learningRate)", "--weight-decay \(weightDecay)"]
        if userHistory { parts.append("--user-history") }
        if itemBias { parts.append("--item-bias") }
        if uniformNegatives > 0 { parts.append("--negatives \(uniformNegatives)") }
        return parts.joined(separator: " ")
    }
}
