import Foundation

/// Successive halving (Jamieson and Talwalkar, 2016): `candidates` configurations are each
/// trained for `firstUnits`; the best 1/`eta` of them go on to `eta` times as many units, and so
/// on until one is left, which trains to `lastUnits`. Bad trials are stopped early, so many
/// candidates cost about as much as a few full trainings.
///
/// Deterministic: which candidates are tried, and which advance, depends only on the
/// candidates' scores (ties go to the lower index), never on time.
public struct SuccessiveHalving: Sendable, Equatable {
    public let candidates: Int
    public let eta: Int
    public let rungs: [TuningRung]

    /// `candidates` ≥ 1; `firstUnits` ≥ 1; `lastUnits` ≥ `firstUnits`; `eta` ≥ 2.
    public init(candidates: Int, firstUnits: Int, lastUnits: Int, eta: Int = 3) {
        precondition(candidates >= 1 && firstUnits >= 1 && lastUnits >= firstUnits && eta >= 2)
        self.candidates = candidates
        self.eta = eta
        var rungs: [TuningRung] = []
        var trials = candidates, units = firstUnits
        while trials > 1 && units < lastUnits {
            rungs.append(TuningRung(trials: trials, units: units))
            trials = max(1, trials / eta)
            units = min(lastUnits, units * eta)
        }
        // Whatever is left (one trial, or several when the units ran out first) trains to the end;
        // the best of them wins.
        rungs.append(TuningRung(trials: trials, units: lastUnits))
        self.rungs = rungs
    }

    /// Units of training the plan costs at most (trials that stop early cost less).
    public var plannedUnits: Int {
        var total = 0, previous = 0
        for rung in rungs {
            total += rung.trials * (rung.units - previous)
            previous = rung.units
        }
        return total
    }

    /// The plan with the most candidates, from `choices`, whose `plannedUnits` × `secondsPerUnit`
    /// fits in `seconds` (at least the first choice).
    public static func fitting(seconds: Double, secondsPerUnit: Double, firstUnits: Int, lastUnits: Int,
                               choices: [Int] = [1, 3, 6, 9, 18, 27, 54, 81, 162, 243], eta: Int = 3) -> SuccessiveHalving {
        var best = SuccessiveHalving(candidates: choices[0], firstUnits: firstUnits, lastUnits: lastUnits, eta: eta)
        for n in choices.dropFirst() {
            let plan = SuccessiveHalving(candidates: n, firstUnits: firstUnits, lastUnits: lastUnits, eta: eta)
            if Double(plan.plannedUnits) * secondsPerUnit <= seconds { best = plan }
        }
        return best
    }

    /// Runs the plan. `make(i)` builds candidate i's trial (untrained); `first`, when given, is
    /// candidate 0 already made (for example, trained to the first rung to time it), and
    /// `firstSeconds` what that took.
    /// `onRecord` sees every trial's score at every rung as it is measured. Returns the winner:
    /// the best-scoring trial of the last rung.
    public func run<Trial: TuningTrial>(first: Trial? = nil, firstSeconds: Double = 0, make: (Int) throws -> Trial,
                                        onRecord: (TuningRecord) -> Void = { _ in }) throws -> (index: Int, trial: Trial, records: [TuningRecord]) {
        var records: [TuningRecord] = []
        var alive: [(index: Int, trial: Trial)] = []
        for (r, rung) in rungs.enumerated() {
            let keep = r + 1 < rungs.count ? rungs[r + 1].trials : 1
            var ranked: [(index: Int, trial: Trial, score: Double)] = []
            let entrants: [Int] = r == 0 ? Array(0..<rung.trials) : alive.map(\.index)
            for (position, index) in entrants.enumerated() {
                let start = DispatchTime.now().uptimeNanoseconds
                let trial: Trial
                if r == 0 {
                    trial = try index == 0 ? (first ?? make(0)) : make(index)
                } else {
                    trial = alive[position].trial
                }
                try trial.advance(to: rung.units)
                var seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
                if r == 0 && index == 0 && first != nil { seconds += firstSeconds }
                let record = TuningRecord(candidate: index, rung: r, units: trial.unitsDone, score: trial.score, seconds: seconds)
                records.append(record)
                onRecord(record)
                // Keep only the best `keep` so far (ties: the lower index), so eliminated trials
                // free their memory at once.
                let at = ranked.firstIndex { $0.score < record.score || ($0.score == record.score && $0.index > index) } ?? ranked.count
                if at < keep { ranked.insert((index, trial, record.score), at: at) }
                if ranked.count > keep { ranked.removeLast() }
            }
            alive = ranked.map { ($0.index, $0.trial) }
        }
        return (alive[0].index, alive[0].trial, records)
    }

    /// "10m", "90s", "1h", "1h30m" or a number of seconds → seconds.
    public static func parseDuration(_ text: String) -> Double? {
        if let s = Double(text), s.isFinite, s > 0 { return s }
        var total = 0.0, number = ""
        for ch in text {
            if ch.isNumber || ch == "." { number.append(ch); continue }
            guard let value = Double(number), value.isFinite else { return nil }
            switch ch {
            case "h": total += value * 3600
            case "m": total += value * 60
            case "s": total += value
            default: return nil
            }
            number = ""
        }
        return number.isEmpty && total > 0 ? total : nil
    }
}
