import Foundation

/// A configuration under trial: trained in budget units (epochs, sweeps) and scored on the
/// validation split. `SuccessiveHalving` advances the promising ones further.
public protocol TuningTrial: AnyObject {
    /// Trains until `units` units are done in all, or fewer if the trial stops by itself (early
    /// stopping).
    func advance(to units: Int) throws
    /// Units done so far.
    var unitsDone: Int { get }
    /// Validation score of the trial's best state so far; higher is better.
    var score: Double { get }
}

/// One rung of a plan: how many trials are trained to how many units.
public struct TuningRung: Sendable, Equatable {
    public var trials: Int
    public var units: Int
}

/// What one trial reached at one rung.
public struct TuningRecord: Sendable, Equatable {
    /// The candidate's index (0: the base configuration).
    public var candidate: Int
    public var rung: Int
    public var units: Int
    public var score: Double
    public var seconds: Double
}
