import ShortlistModel
import Foundation
import ShortlistCore
import ShortlistData

/// A two-tower training as a tuning trial: epochs are the units, the best validation Recall@20
/// so far the score; early stopping ends a trial by itself.
public final class TwoTowerTrial: TuningTrial {
    public let trainer: TwoTowerTrainer

    /// `prepare` runs on the fresh model before training (e.g. a warm start).
    public init(configuration: TwoTowerConfiguration, data: InteractionData, prepare: (TwoTowerModel) throws -> Void = { _ in }) throws {
        try configuration.validate()
        let model = try TwoTowerModel(configuration: configuration, data: data)
        try prepare(model)
        trainer = try TwoTowerTrainer(model: model, data: data)
    }

    public var unitsDone: Int { trainer.epoch }
    public var score: Double { max(trainer.bestRecall, 0) }

    public func advance(to units: Int) throws {
        while trainer.epoch < units && !trainer.isFinished { trainer.trainEpoch() }
    }
}
