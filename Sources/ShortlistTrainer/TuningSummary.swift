import Foundation

/// What a tuning run did, for the model's settings file and the log.
public struct TuningSummary: Sendable, Equatable {
    public var plan: SuccessiveHalving
    /// The chosen candidate (0: the base configuration).
    public var winner: Int
    /// `--tune-budget`, when the plan came from it.
    public var budgetSeconds: Double?
    /// Wall time the search took, the winner's training included.
    public var seconds: Double
    public var records: [TuningRecord]

    public init(plan: SuccessiveHalving, winner: Int, budgetSeconds: Double?, seconds: Double, records: [TuningRecord]) {
        self.plan = plan
        self.winner = winner
        self.budgetSeconds = budgetSeconds
        self.seconds = seconds
        self.records = records
    }

    /// `{"candidates":…,"rungs":[[trials,units],…],"winner":…,"budget_s":…,"seconds":…}`.
    public var json: String {
        let rungs = plan.rungs.map { "[\($0.trials),\($0.units)]" }.joined(separator: ",")
        let budget = budgetSeconds.map { String(format: "%.0f", $0) } ?? "null"
        return "{\"candidates\":\(plan.candidates),\"eta\":\(plan.eta),\"rungs\":[\(rungs)],\"winner\":\(winner),\"budget_s\":\(budget),\"seconds\":\(String(format: "%.1f", seconds))}"
    }

    /// One CSV line per record: candidate, rung, units, score, seconds, and the candidate's
    /// settings as `describe` writes them.
    public func csv(describe: (Int) -> String) -> String {
        var out = "candidate,rung,units,valid_recall@20,seconds,settings\n"
        for r in records {
            out += "\(r.candidate),\(r.rung),\(r.units),\(String(format: "%.5f", r.score)),\(String(format: "%.2f", r.seconds)),\"\(describe(r.candidate))\"\n"
        }
        return out
    }
}
