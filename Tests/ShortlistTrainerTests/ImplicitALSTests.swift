import ShortlistCore
import ShortlistData
import XCTest
@testable import ShortlistModel
@testable import ShortlistTrainer

/// iALS by conjugate gradient against a direct solve of the same normal equations, and on data
/// with a planted structure.
final class ImplicitALSTests: XCTestCase {
    /// Random pairs: `users` × `items`, each user with 1–5 items.
    private func pairs(users: Int, items: Int, seed: UInt64) -> InteractionMatrix {
        var g = SeededGenerator(seed: seed)
        var us: [Int32] = [], its: [Int32] = []
        for u in 0..<users {
            for _ in 0..<(1 + Int(g.next() % 5)) {
                us.append(Int32(u))
                its.append(Int32(g.next() % UInt64(items)))
            }
        }
        return InteractionMatrix(rowCount: users, users: us, items: its)
    }

    /// Solves A x = b (n × n, row-major) by Gaussian elimination with partial pivoting.
    private func solve(_ a: [Double], _ b: [Double], n: Int) -> [Double] {
        var a = a, b = b
        for c in 0..<n {
            let p = (c..<n).max { abs(a[$0 * n + c]) < abs(a[$1 * n + c]) }!
            for j in 0..<n { a.swapAt(c * n + j, p * n + j) }
            b.swapAt(c, p)
            for r in (c + 1)..<n {
                let f = a[r * n + c] / a[c * n + c]
                for j in c..<n { a[r * n + j] -= f * a[c * n + j] }
                b[r] -= f * b[c]
            }
        }
        var x = [Double](repeating: 0, count: n)
        for r in stride(from: n - 1, through: 0, by: -1) {
            var s = b[r]
            for j in (r + 1)..<n { s -= a[r * n + j] * x[j] }
            x[r] = s / a[r * n + r]
        }
        return x
    }

    func testConjugateGradientReachesTheDirectSolution() throws {
        let d = 6, train = pairs(users: 40, items: 25, seed: 3)
        var c = ImplicitALSConfiguration()
        c.factors = d
        c.cgSteps = d          // CG solves a d × d system exactly in d steps (up to rounding)
        c.regularization = 0.5
        c.alpha = 8
        c.threads = 2
        let als = try ImplicitALS(train: train, itemCount: 25, configuration: c)
        let y = als.itemFactors
        // The items' factors at their random start, scaled up so the system is well conditioned.
        for i in 0..<y.count * d { y.baseAddress[i] *= 100 }
        ImplicitALS.solve(als.userFactors, given: y, pairs: train, configuration: c)
        for u in 0..<train.rowCount {
            // (YᵀY + λI + (α − 1) Σᵢ yᵢyᵢᵀ) x = α Σᵢ yᵢ
            var a = [Double](repeating: 0, count: d * d), b = [Double](repeating: 0, count: d)
            for i in 0..<y.count {
                for p in 0..<d { for q in 0..<d { a[p * d + q] += Double(y.row(i)[p] * y.row(i)[q]) } }
            }
            for p in 0..<d { a[p * d + p] += Double(c.regularization) }
            for i in train.items(of: u) {
                let yi = y.row(Int(i))
                for p in 0..<d {
                    b[p] += Double(c.alpha * yi[p])
                    for q in 0..<d { a[p * d + q] += Double((c.alpha - 1) * yi[p] * yi[q]) }
                }
            }
            let want = solve(a, b, n: d)
            for p in 0..<d {
                XCTAssertEqual(Double(als.userFactors.row(u)[p]), want[p], accuracy: 1e-3 * max(1, abs(want[p])), "user \(u), component \(p)")
            }
        }
    }

    func testLearnsPlantedGroupsAndIsTheSameOnAnyNumberOfThreads() throws {
        // Two groups of 60 users and 30 items; each user picks 6 items of their own group.
        var g = SeededGenerator(seed: 11)
        var us: [Int32] = [], its: [Int32] = []
        var held: [(Int, Int32)] = []
        for u in 0..<120 {
            let base = u < 60 ? 0 : 30
            var mine = Set<Int32>()
            while mine.count < 7 { mine.insert(Int32(base + Int(g.next() % 30))) }
            // Hold out one of them at random (holding out the smallest would leave items 0 and
            // 30 with no training pairs at all, and compare two untrained near-zero scores).
            let sorted = mine.sorted()
            let out = sorted[Int(g.next() % 7)]
            held.append((u, out))
            for i in sorted where i != out { us.append(Int32(u)); its.append(i) }
        }
        let train = InteractionMatrix(rowCount: 120, users: us, items: its)
        var c = ImplicitALSConfiguration()
        c.factors = 2          // the planted structure's rank: wider factors also fit each user's random picks
        c.iterations = 10
        c.regularization = 1
        c.threads = 1
        let one = try ImplicitALS(train: train, itemCount: 60, configuration: c)
        one.run()
        c.threads = 2
        let two = try ImplicitALS(train: train, itemCount: 60, configuration: c)
        two.run()
        XCTAssertEqual(one.userFactors.flatArray(), two.userFactors.flatArray(), "rows are solved independently: threads change nothing")
        XCTAssertEqual(one.iterationsDone, 10)
        // The held-out item of every user scores above every item of the other group.
        for (u, item) in held {
            let x = one.userFactors.row(u)
            func score(_ i: Int) -> Float { (0..<2).reduce(0) { $0 + x[$1] * one.itemFactors.row(i)[$1] } }
            let others = u < 60 ? 30..<60 : 0..<30
            XCTAssertGreaterThan(score(Int(item)), others.map(score).max()!, "user \(u)")
        }
    }

    func testBadSettingsAreRefused() {
        let train = pairs(users: 5, items: 5, seed: 1)
        for change in [{ (c: inout ImplicitALSConfiguration) in c.factors = 0 }, { $0.factors = 1 << 20 }, { $0.cgSteps = 0 }, { $0.alpha = 0.5 },
                       { $0.alpha = .nan }, { $0.regularization = -1 }, { $0.regularization = .infinity }] {
            var c = ImplicitALSConfiguration()
            change(&c)
            XCTAssertThrowsError(try ImplicitALS(train: train, itemCount: 5, configuration: c))
        }
    }
}
