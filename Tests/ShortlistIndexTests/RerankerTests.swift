import ShortlistCore
import ShortlistIndex
import XCTest

/// `Reranker.select` against a naive reference that recomputes every score at every step.
final class RerankerTests: XCTestCase {
    /// The definition, written plainly: O(k² × candidates).
    private func reference(relevance: [Float], k: Int, lambda: Float?, similarity: (Int, Int) -> Float,
                           groups: [[Int]]?, maxPerGroup: Int?) -> [Int] {
        var chosen: [Int] = []
        while chosen.count < k {
            var best: (index: Int, score: Float)?
            for i in relevance.indices where !chosen.contains(i) {
                if let limit = maxPerGroup, let g = groups?[i],
                   g.contains(where: { v in chosen.filter { groups![$0].contains(v) }.count >= limit }) { continue }
                var score = relevance[i]
                if let lambda, !chosen.isEmpty {
                    score = lambda * relevance[i] - (1 - lambda) * chosen.map { similarity(i, $0) }.max()!
                }
                if best == nil || score > best!.score { best = (i, score) }
            }
            guard let b = best else { break }
            chosen.append(b.index)
        }
        return chosen
    }

    func testMatchesTheReferenceOnRandomData() {
        var g = SeededGenerator(seed: 21)
        for trial in 0..<300 {
            let n = 1 + Int(g.next() % 60), d = 1 + Int(g.next() % 8)
            let vectors = (0..<n).map { _ in (0..<d).map { _ in g.nextGaussian() } }
            let relevance = (0..<n).map { _ in g.nextGaussian() }.sorted(by: >)
            let sim = { (i: Int, j: Int) -> Float in zip(vectors[i], vectors[j]).reduce(0) { $0 + $1.0 * $1.1 } }
            let groupCount = 1 + Int(g.next() % 6)
            let groups: [[Int]]? = trial % 3 == 0 ? nil : (0..<n).map { _ in
                switch g.next() % 4 {
                case 0: return []   // no value: never limited
                case 1: return [Int(g.next() % UInt64(groupCount)), Int(g.next() % UInt64(groupCount))].uniqued()
                default: return [Int(g.next() % UInt64(groupCount))]
                }
            }
            let maxPerGroup: Int? = groups == nil ? nil : 1 + Int(g.next() % 3)
            let lambda: Float? = trial % 4 == 0 ? nil : Float(g.next() % 11) / 10
            let k = 1 + Int(g.next() % UInt64(n + 3))
            let got = Reranker.select(relevance: relevance, k: k, lambda: lambda, similarity: sim, groups: groups, maxPerGroup: maxPerGroup)
            let want = reference(relevance: relevance, k: k, lambda: lambda, similarity: sim, groups: groups, maxPerGroup: maxPerGroup)
            XCTAssertEqual(got, want, "trial \(trial): n \(n) k \(k) λ \(String(describing: lambda)) limit \(String(describing: maxPerGroup))")
        }
    }

    func testLimitsAndExtremes() {
        let relevance: [Float] = [0.9, 0.8, 0.7, 0.6, 0.5]
        // Items 0 and 1 are near-duplicates. After 0: λ 0.5 favours the opposite item 4
        // (0.25 + 0.5); λ 0.9 the orthogonal item 2 (0.63) just over the duplicate (0.72 − 0.099).
        let vectors: [[Float]] = [[1, 0], [0.99, 0.14], [0, 1], [0.7, 0.7], [-1, 0]]
        let sim = { (i: Int, j: Int) -> Float in zip(vectors[i], vectors[j]).reduce(0) { $0 + $1.0 * $1.1 } }
        XCTAssertEqual(Reranker.select(relevance: relevance, k: 3, lambda: nil, similarity: sim, groups: nil, maxPerGroup: nil), [0, 1, 2])
        XCTAssertEqual(Reranker.select(relevance: relevance, k: 3, lambda: 1, similarity: sim, groups: nil, maxPerGroup: nil), [0, 1, 2], "λ 1: relevance only")
        XCTAssertEqual(Reranker.select(relevance: relevance, k: 2, lambda: 0.5, similarity: sim, groups: nil, maxPerGroup: nil), [0, 4])
        XCTAssertEqual(Reranker.select(relevance: relevance, k: 2, lambda: 0.9, similarity: sim, groups: nil, maxPerGroup: nil), [0, 2])
        // At most one per group; a list value counts against each of its groups.
        let groups = [[0], [0], [1], [0, 1], []]
        XCTAssertEqual(Reranker.select(relevance: relevance, k: 5, lambda: nil, similarity: sim, groups: groups, maxPerGroup: 1), [0, 2, 4],
                       "3 is in groups 0 and 1, both full; 4 has no group")
        XCTAssertEqual(Reranker.select(relevance: [], k: 3, lambda: 0.5, similarity: sim, groups: [], maxPerGroup: 1), [])
    }
}

private extension Array where Element == Int {
    func uniqued() -> [Int] { var seen = Set<Int>(); return filter { seen.insert($0).inserted } }
}
