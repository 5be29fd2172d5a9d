import Foundation
import ShortlistCore
import ShortlistData

/// iALS as a tuning trial: sweeps are the units, validation Recall@20 (training items masked)
/// the score.
public final class ALSTrial: TuningTrial {
    public let als: ImplicitALS
    private let target: InteractionMatrix
    private let mask: InteractionMatrix
    private let threads: Int
    public private(set) var score = -1.0

    /// `byItem` is `ImplicitALS.transpose(data.train)`, shared by the trials; `target` the
    /// validation rows to score on.
    init(configuration: ImplicitALSConfiguration, train: InteractionMatrix, byItem: InteractionMatrix, target: InteractionMatrix) throws {
        als = try ImplicitALS(byUser: train, byItem: byItem, configuration: configuration)
        self.target = target
        mask = train
        threads = configuration.threads
    }

    public var unitsDone: Int { als.iterationsDone }

    public func advance(to units: Int) throws {
        guard als.iterationsDone < units else { return }
        while als.iterationsDone < units { als.iterate() }
        let m = RankingEvaluator.evaluate(users: als.userFactors, items: als.itemFactors, target: target, mask: mask, threads: threads)
        score = m.value("recall@20") ?? 0
    }

    /// Trials for every candidate of `space` around `base` on `data`'s training split, scored on
    /// at most `validationUsers` validation users (seeded sample; 0: all).
    public static func factory(data: InteractionData, base: ImplicitALSConfiguration, space: ALSSearchSpace,
                               validationUsers: Int = 5000) -> (Int) throws -> ALSTrial {
        let byItem = ImplicitALS.transpose(data.train, itemCount: data.itemCount)
        let target = validationUsers > 0 ? data.valid.sampledRows(validationUsers, seed: base.seed) : data.valid
        return { index in
            try ALSTrial(configuration: space.candidate(index, base: base, seed: base.seed), train: data.train, byItem: byItem, target: target)
        }
    }
}
