import Foundation
import ShortlistTrainer

/// `train --tune-budget` / `--tune-trials` for any kind of trial: times candidate 0's first rung,
/// plans successive halving to fit the budget (or runs the given number of candidates), prints
/// the plan and every trial's score as it comes.
struct TuneRunner {
    /// Wall-clock budget in seconds (the plan is sized from it once, then fixed).
    var budgetSeconds: Double?
    /// A fixed number of candidates instead (exactly reproducible on any machine).
    var trials: Int?
    var firstUnits: Int
    var lastUnits: Int
    /// "sweeps" or "epochs".
    var unit: String
    /// Units the winner is expected to train after the last rung (set aside from the budget; it
    /// may train longer, until early stopping or --epochs).
    var extraUnits = 0

    func run<Trial: TuningTrial>(make: (Int) throws -> Trial, describe: (Int) -> String) throws -> (trial: Trial, summary: TuningSummary) {
        let watch = Stopwatch()
        let first = try make(0)
        try first.advance(to: firstUnits)
        let perUnit = watch.seconds / Double(max(1, first.unitsDone))
        let plan: SuccessiveHalving
        if let trials {
            plan = SuccessiveHalving(candidates: trials, firstUnits: firstUnits, lastUnits: lastUnits)
        } else {
            plan = SuccessiveHalving.fitting(seconds: (budgetSeconds ?? 0) - watch.seconds - Double(extraUnits) * perUnit, secondsPerUnit: perUnit,
                                             firstUnits: firstUnits, lastUnits: lastUnits)
        }
        let rungs = plan.rungs.map { "\($0.trials) × \($0.units)" }.joined(separator: ", ")
        print(String(format: "tuning: %d candidates (0: the settings given), successive halving ÷%d: %@ %@; at most %d %@, about %.1f min at %.2f s per %@ (candidate 0)%@",
                     plan.candidates, plan.eta, rungs, unit, plan.plannedUnits, unit, Double(plan.plannedUnits) * perUnit / 60, perUnit, String(unit.dropLast()),
                     extraUnits > 0 ? ", then the chosen one trains on until early stopping (\(extraUnits) more set aside)" : ""))
        if trials == nil && plan.candidates == 1 {
            // Say what a search would cost, so a user with a large catalogue knows the budget to ask for.
            let searching = SuccessiveHalving(candidates: 6, firstUnits: firstUnits, lastUnits: lastUnits)
            let minutes = (watch.seconds + Double(searching.plannedUnits + extraUnits) * perUnit) / 60
            print(String(format: "tuning: the budget fits only the settings given (candidate 0); a search of 6 candidates needs about --tune-budget %.0fm on this data and machine", minutes.rounded(.up)))
        }
        fflush(stdout)
        let result = try plan.run(first: first, firstSeconds: perUnit * Double(first.unitsDone), make: make) { r in
            print(String(format: "trial %3d  rung %d  %3d %@  valid recall@20 %.4f  %5.1f s  %@", r.candidate, r.rung, r.units, unit, r.score, r.seconds, describe(r.candidate)))
            fflush(stdout)
        }
        let summary = TuningSummary(plan: plan, winner: result.index, budgetSeconds: trials == nil ? budgetSeconds : nil,
                                    seconds: watch.seconds, records: result.records)
        print(String(format: "tuning chose candidate %d in %.1f min: %@", result.index, watch.seconds / 60, describe(result.index)))
        return (result.trial, summary)
    }
}
