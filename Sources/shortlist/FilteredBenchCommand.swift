import ArgumentParser
import Foundation
import ShortlistBench
import ShortlistCore
import ShortlistData
import ShortlistIndex

struct FilteredBenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "filtered-bench",
        abstract: "Filtered search on an HNSW index: recall and queries/s at several shares of items allowed.",
        discussion: """
        Each item is allowed with probability --share (seeded), as a categorical field with that \
        share of items would be. For every share: an exact scan of the allowed items, the \
        filter-aware graph walk over a row bitmap at each --ef, and the walk from the ids turned \
        into rows per query (the server's path today) at the first --ef; scored against exact \
        search over the allowed items; single queries on one thread. The server scores up to 4,096 passing items exactly and \
        walks the graph above that.

        Example:
          shortlist filtered-bench --index wordnet-hnsw16.idx --base base.fvecs --queries query.fvecs --share 0.5 --share 0.1 --share 0.01 --share 0.001
        """
    )

    @Option(help: "An HNSW index file built from --base (ids are the base rows).") var index: String
    @Option(help: "The vectors the index was built from.") var base: String
    @Option(help: "Query vectors.") var queries: String
    @Option(help: "Share of items allowed (repeatable).") var share: [Double] = [0.5, 0.1, 0.01, 0.001]
    @Option(help: "HNSW candidate list sizes (repeatable).") var ef: [Int] = [64, 128, 256]
    @Option(help: "Results per query.") var k: Int = 10
    @Option(help: "Use only the first N queries.") var limit: Int?
    @Option(help: "Seed of the allowed items.") var seed: UInt64 = 1

    func run() throws {
        Runtime.prepare(verbose: true)
        guard let graph = try IndexLoader.load(path: index) as? HNSWIndex else { throw ValidationError("\(index) is not an HNSW index") }
        let baseFile = try VectorFile.read(path: base)
        var queryMatrix = try VectorFile.read(path: queries).matrix
        if let limit, limit < queryMatrix.count {
            let values = Array(queryMatrix.flatArray().prefix(limit * queryMatrix.dimension))
            queryMatrix = try VectorMatrix(dimension: queryMatrix.dimension, values: values)
        }
        guard baseFile.matrix.count == graph.count else { throw ValidationError("--base has \(baseFile.matrix.count) vectors; the index \(graph.count)") }
        let rows = try FilteredBenchmark(index: graph, base: baseFile.matrix, queries: queryMatrix, k: k, seed: seed)
            .run(shares: share, efs: ef) { FileHandle.standardError.write(Data(($0 + "\n").utf8)) }
        print("| allowed | items | method | recall@\(k) | queries/s |")
        print("|---|---|---|---|---|")
        for r in rows {
            print(String(format: "| %@ | %d | %@ | %.4f | %.0f |", String(format: "%g%%", r.share * 100), r.allowed,
                         r.ef.map { "\(r.method), ef \($0)" } ?? r.method, r.recall, r.queriesPerSecond))
        }
    }
}
