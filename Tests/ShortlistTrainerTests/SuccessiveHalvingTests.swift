import ShortlistCore
import ShortlistData
@testable import ShortlistModel
import XCTest
@testable import ShortlistTrainer

/// The tuning plan and its run, with trials whose scores are known in advance.
final class SuccessiveHalvingTests: XCTestCase {
    /// A trial whose score after u units is `quality` × u ÷ (u + `slowness`) (a learning curve).
    final class CurveTrial: TuningTrial {
        let quality: Double, slowness: Double
        private(set) var unitsDone = 0
        var advanced: [Int] = []
        init(quality: Double, slowness: Double = 1) { self.quality = quality; self.slowness = slowness }
        func advance(to units: Int) throws {
            advanced.append(units)
            unitsDone = max(unitsDone, units)
        }
        var score: Double { quality * Double(unitsDone) / (Double(unitsDone) + slowness) }
    }

    func testRungsDivideTheCandidatesAndMultiplyTheUnits() {
        let plan = SuccessiveHalving(candidates: 27, firstUnits: 2, lastUnits: 15)
        XCTAssertEqual(plan.rungs, [TuningRung(trials: 27, units: 2), TuningRung(trials: 9, units: 6), TuningRung(trials: 3, units: 15)])
        XCTAssertEqual(plan.plannedUnits, 27 * 2 + 9 * 4 + 3 * 9)
        XCTAssertEqual(SuccessiveHalving(candidates: 1, firstUnits: 2, lastUnits: 15).rungs, [TuningRung(trials: 1, units: 15)])
        XCTAssertEqual(SuccessiveHalving(candidates: 9, firstUnits: 1, lastUnits: 60).rungs,
                       [TuningRung(trials: 9, units: 1), TuningRung(trials: 3, units: 3), TuningRung(trials: 1, units: 60)])
        XCTAssertEqual(SuccessiveHalving(candidates: 4, firstUnits: 5, lastUnits: 5).rungs, [TuningRung(trials: 4, units: 5)])
    }

    func testTheBudgetChoosesTheLargestPlanThatFits() {
        let fits = SuccessiveHalving.fitting(seconds: 100, secondsPerUnit: 1, firstUnits: 2, lastUnits: 15)
        XCTAssertLessThanOrEqual(fits.plannedUnits, 100)
        let next = SuccessiveHalving(candidates: fits.candidates * 2, firstUnits: 2, lastUnits: 15)
        XCTAssertGreaterThan(next.plannedUnits, 100)
        XCTAssertEqual(SuccessiveHalving.fitting(seconds: 1, secondsPerUnit: 1, firstUnits: 2, lastUnits: 15).candidates, 1,
                       "a budget too small for any search trains the settings given")
    }

    func testTheBestAdvanceAndTheLosersStopEarly() throws {
        let qualities = [0.5, 0.9, 0.1, 0.7, 0.3, 0.8, 0.2, 0.6, 0.4]
        var made: [CurveTrial] = []
        let plan = SuccessiveHalving(candidates: 9, firstUnits: 1, lastUnits: 9)
        let result = try plan.run(make: { i in let t = CurveTrial(quality: qualities[i]); made.append(t); return t })
        XCTAssertEqual(result.index, 1)
        XCTAssertEqual(made.map(\.unitsDone), [1, 9, 1, 3, 1, 3, 1, 1, 1], "only the top third reach 3 units, only the best 9")
        XCTAssertEqual(result.records.count, 9 + 3 + 1)
        XCTAssertEqual(result.records.filter { $0.rung == 1 }.map(\.candidate), [1, 5, 3], "best first")
    }

    func testTiesGoToTheLowerIndexAndTheRunIsDeterministic() throws {
        let plan = SuccessiveHalving(candidates: 6, firstUnits: 1, lastUnits: 3)
        let a = try plan.run(make: { _ in CurveTrial(quality: 1) })
        let b = try plan.run(make: { _ in CurveTrial(quality: 1) })
        XCTAssertEqual(a.index, 0)
        XCTAssertEqual(a.records.map(\.candidate), b.records.map(\.candidate))
    }

    func testAGivenFirstTrialIsUsedNotRemade() throws {
        let first = CurveTrial(quality: 0.9)
        try first.advance(to: 1)
        var madeZero = false
        let result = try SuccessiveHalving(candidates: 3, firstUnits: 1, lastUnits: 3)
            .run(first: first, make: { i in madeZero = madeZero || i == 0; return CurveTrial(quality: 0.1 * Double(i)) })
        XCTAssertFalse(madeZero)
        XCTAssertTrue(result.trial === first)
    }

    func testDurations() {
        XCTAssertEqual(SuccessiveHalving.parseDuration("10m"), 600)
        XCTAssertEqual(SuccessiveHalving.parseDuration("90s"), 90)
        XCTAssertEqual(SuccessiveHalving.parseDuration("1h30m"), 5400)
        XCTAssertEqual(SuccessiveHalving.parseDuration("45"), 45)
        XCTAssertEqual(SuccessiveHalving.parseDuration("1.5m"), 90)
        for bad in ["", "m", "10x", "-5", "0", "10m5", "nan"] { XCTAssertNil(SuccessiveHalving.parseDuration(bad), bad) }
    }

    func testALSCandidatesStartWithTheBaseAndAnchorsAndDoNotDependOnTheBudget() {
        var base = ImplicitALSConfiguration()
        base.seed = 4
        let space = ALSSearchSpace()
        let first = (0..<20).map { space.candidate($0, base: base, seed: 4) }
        XCTAssertEqual(first[0], base)
        XCTAssertEqual(first[1].summary, "factors 64, λ 10.0, α 40.0")
        XCTAssertEqual(first[2].summary, "factors 128, λ 100.0, α 10.0")
        XCTAssertEqual(Set(first.map(\.summary)).count, 20, "no candidate repeats")
        for c in first {
            XCTAssertTrue(space.factors.contains(c.factors))
            XCTAssertTrue(space.regularization.contains(c.regularization) && space.alpha.contains(c.alpha), c.summary)
            XCTAssertEqual(c.iterations, base.iterations)
        }
        // Settings given are held: every candidate has them, and anchors that would repeat go.
        let fixed = ALSSearchSpace.fixing(factors: 32, regularization: nil, alpha: 5)
        base.factors = 32   // as `train` makes the base from the settings given
        base.alpha = 5
        let held = (0..<10).map { fixed.candidate($0, base: base, seed: 4) }
        XCTAssertTrue(held.allSatisfy { $0.factors == 32 && $0.alpha == 5 })
        XCTAssertEqual(Set(held.map(\.summary)).count, 10)
    }

    func testTuningALSFindsSettingsAtLeastAsGoodAsTheBaseOnValidation() throws {
        // Four planted groups of 30 items; a deliberately poor base (one factor cannot tell four
        // groups apart).
        var g = SeededGenerator(seed: 11)
        var us: [Int32] = [], its: [Int32] = [], vu: [Int32] = [], vi: [Int32] = []
        for u in 0..<120 {
            var mine = Set<Int32>()
            while mine.count < 8 { mine.insert(Int32(30 * (u % 4) + Int(g.next() % 30))) }
            let sorted = mine.sorted()
            vu.append(Int32(u)); vi.append(sorted[0])
            for i in sorted.dropFirst() { us.append(Int32(u)); its.append(i) }
        }
        let train = InteractionMatrix(rowCount: 120, users: us, items: its)
        let valid = InteractionMatrix(rowCount: 120, users: vu, items: vi)
        var base = ImplicitALSConfiguration()
        base.factors = 1
        base.regularization = 1
        base.iterations = 6
        base.threads = 1
        var space = ALSSearchSpace()
        space.factors = [1, 4]
        space.anchors = []
        let byItem = ImplicitALS.transpose(train, itemCount: 120)
        let make = { (i: Int) in try ALSTrial(configuration: space.candidate(i, base: base, seed: 1), train: train, byItem: byItem, target: valid) }
        let result = try SuccessiveHalving(candidates: 9, firstUnits: 2, lastUnits: 6).run(make: make)
        let alone = try make(0)
        try alone.advance(to: 6)
        XCTAssertGreaterThanOrEqual(result.trial.score, alone.score)
        XCTAssertGreaterThan(result.trial.score, alone.score + 0.2, "one factor cannot tell four groups apart; four can")
        XCTAssertEqual(result.trial.als.configuration.factors, 4)
        XCTAssertEqual(result.trial.unitsDone, 6)
    }

    func testTowerCandidatesStartWithTheBaseThenAnchorsAndHoldTheSettingsGiven() {
        var base = TwoTowerConfiguration()
        base.seed = 9
        base.epochs = 7
        let space = TwoTowerSearchSpace()
        let first = (0..<30).map { space.candidate($0, base: base) }
        XCTAssertEqual(first[0], base)
        XCTAssertEqual(first[1].tuningSummary, "--dim 64 --temperature 0.1 --lr 0.005 --weight-decay 0.0 --user-history --item-bias")
        XCTAssertEqual(first[2].tuningSummary, "--dim 128 --temperature 0.15 --lr 0.005 --weight-decay 0.05 --user-history --item-bias")
        XCTAssertEqual(first[3].tuningSummary, TwoTowerConfiguration.recommended.tuningSummary)
        let fromRecommended = (0..<4).map { space.candidate($0, base: .recommended).tuningSummary }
        XCTAssertEqual(Set(fromRecommended).count, 4, "an anchor equal to the base is not tried twice")
        XCTAssertEqual(Set(first.map(\.tuningSummary)).count, 30)
        for c in first {
            XCTAssertNoThrow(try c.validate())
            XCTAssertTrue(space.temperature.contains(c.temperature) && space.learningRate.contains(c.learningRate), c.tuningSummary)
            XCTAssertEqual(c.epochs, 7)
            XCTAssertEqual(c.seed, 9)
        }
        XCTAssertEqual((0..<30).map { space.candidate($0, base: base) }, first, "the same candidates on every call")
        var held = TwoTowerSearchSpace()
        held.temperature = 0.3...0.3
        held.itemBias = [false]
        base.temperature = 0.3
        let fixed = (0..<12).map { held.candidate($0, base: base) }
        XCTAssertTrue(fixed.allSatisfy { $0.temperature == 0.3 && !$0.itemBias })
        XCTAssertEqual(Set(fixed.map(\.tuningSummary)).count, 12)
    }

    func testTuningTheTowersBeatsAPoorBase() throws {
        let data = TrainerFixtures.groupedInteractions()
        var base = TwoTowerConfiguration()
        base.dimension = 16
        base.batchSize = 64
        base.epochs = 12
        base.threads = 1
        base.learningRate = 1e-6   // far too low to learn anything
        var space = TwoTowerSearchSpace()
        space.dimensions = [16]
        space.anchors = []
        space.learningRate = 0.01...0.05
        let plan = SuccessiveHalving(candidates: 6, firstUnits: 2, lastUnits: 12)
        let result = try plan.run(make: { try TwoTowerTrial(configuration: space.candidate($0, base: base), data: data) })
        let alone = try TwoTowerTrial(configuration: base, data: data)
        try alone.advance(to: 12)
        XCTAssertGreaterThan(result.trial.score, alone.score + 0.2, "\(result.trial.score) vs \(alone.score)")
        XCTAssertNotEqual(result.index, 0)
        XCTAssertEqual(result.trial.trainer.model.configuration, space.candidate(result.index, base: base))
    }
}
