import ShortlistCore
import ShortlistTestSupport
import XCTest

final class KMeansTests: XCTestCase {
    func testObjectiveFallsEveryIterationAndFindsTheClusters() throws {
        let data = Fixtures.clustered(count: 4000, dimension: 8, clusters: 16, separation: 6, seed: 5)
        let result = try KMeans.train(data, configuration: KMeansConfiguration(centroidCount: 16, iterations: 15, seed: 1, threads: 2))
        XCTAssertEqual(result.objectiveHistory.count, 15)
        for (a, b) in zip(result.objectiveHistory, result.objectiveHistory.dropFirst()) {
            XCTAssertLessThanOrEqual(b, a * (1 + 1e-6), "objective rose: \(result.objectiveHistory)")
        }
        // Random initialisation can merge a few clusters (a local optimum), but the mean squared
        // distance must end within a small factor of the per-point noise (d = 8, variance 1) and
        // well below where it started.
        XCTAssertLessThan(result.objectiveHistory.last! / Double(data.count), 8 * 3)
        XCTAssertLessThan(result.objectiveHistory.last!, result.objectiveHistory.first! * 0.8)
    }

    func testSeededRunsAreReproducibleAndAssignmentIsExact() throws {
        let data = Fixtures.clustered(count: 1000, dimension: 5, seed: 9)
        let c = KMeansConfiguration(centroidCount: 7, iterations: 5, seed: 3, threads: 2)
        let a = try KMeans.train(data, configuration: c), b = try KMeans.train(data, configuration: c)
        XCTAssertEqual(a.centroids.flatArray(), b.centroids.flatArray())
        var assignment = [Int32](repeating: 0, count: data.count)
        KMeans.assign(data, to: a.centroids, into: &assignment, pointNorms: data.squaredNorms(), threads: 1)
        for r in stride(from: 0, to: data.count, by: 37) {
            let best = (0..<7).min { Fixtures.referenceDistance(.l2, data.rowArray(r), a.centroids.rowArray($0)) < Fixtures.referenceDistance(.l2, data.rowArray(r), a.centroids.rowArray($1)) }!
            XCTAssertEqual(Int(assignment[r]), best)
        }
    }

    func testEmptyClustersAreRepairedAndTooFewPointsRefused() throws {
        // 8 distinct points repeated: asking for 8 centroids from a sample where several start on
        // duplicates leaves clusters empty, which must be re-seeded by splitting.
        var values: [Float] = []
        for i in 0..<400 { values += [Float(i % 2) * 10, Float(i % 3)] }
        let data = try VectorMatrix(dimension: 2, values: values)
        let result = try KMeans.train(data, configuration: KMeansConfiguration(centroidCount: 8, iterations: 6, seed: 2))
        XCTAssertEqual(result.centroids.count, 8)
        XCTAssertTrue(result.centroids.firstNonFinite() == nil)
        XCTAssertGreaterThan(result.emptyClustersRepaired, 0)
        XCTAssertThrowsError(try KMeans.train(data, configuration: KMeansConfiguration(centroidCount: 401))) {
            XCTAssertEqual($0 as? KMeansError, .tooFewPoints(points: 400, centroids: 401))
        }
    }
}
