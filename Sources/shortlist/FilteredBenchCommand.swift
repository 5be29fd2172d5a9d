import ArgumentParser
import Foundation
import ShortlistBench
import ShortlistCore
import ShortlistData
import ShortlistIndex

struct FilteredBenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "filtered-bench",
        abstract: "Filtered search: recall and queries/s at several shares of items allowed.",
        usage: "shortlist filtered-bench --index <f> --base <f> --queries <f> [<options>]",
        discussion: """
        Each item is allowed with probability --share (seeded), as a categorical field with that \
        share of items would be. For every share, single queries on one thread, scored against \
        exact search over the allowed items: `scan` scores every allowed row; for each --ef \
        (HNSW) or --nprobe (IVF), `planned` is the index's own choice (what the server runs) and \
        `index` forces the index structure (HNSW's filter-aware walk, IVF's widened probing). \
        --write-masks writes each share's allowed items (one byte per base row, 1 = allowed) as \
        DIR/allowed-SHARE.u8 for bench/filtered-vs-peers.

        Example:
          shortlist filtered-bench --index wordnet-hnsw16.idx --base base.fvecs \\
              --queries query.fvecs --share 0.5 --share 0.1 --share 0.01 \\
              --share 0.001
        """
    )

    @Option(help: "An HNSW or IVF index file built from --base (ids are the base rows).") var index: String
    @Option(help: "The vectors the index was built from.") var base: String
    @Option(help: "Query vectors.") var queries: String
    @Option(help: "Share of items allowed (repeatable).") var share: [Double] = [0.5, 0.1, 0.01, 0.001]
    @Option(help: "HNSW candidate list sizes (repeatable; default 64, 128, 256).") var ef: [Int] = []
    @Option(help: "IVF lists probed (repeatable; default 16, 32, 64).") var nprobe: [Int] = []
    @Option(help: "IVF with Refine: candidates re-ranked per result.") var rerank: Int?
    @Option(help: "Results per query.") var k: Int = 10
    @Option(help: "Use only the first N queries.") var limit: Int?
    @Option(help: "Seed of the allowed items.") var seed: UInt64 = 1
    @Option(help: "Write each share's allowed items to this folder (for the peers).") var writeMasks: String?

    func run() throws {
        Runtime.prepare(verbose: true)
        guard let served = try IndexLoader.load(path: index) as? any MutableVectorIndex else { throw ValidationError("\(index) cannot be searched with a filter") }
        let baseFile = try VectorFile.read(path: base)
        var queryMatrix = try VectorFile.read(path: queries).matrix
        if let limit, limit < queryMatrix.count {
            let values = Array(queryMatrix.flatArray().prefix(limit * queryMatrix.dimension))
            queryMatrix = try VectorMatrix(dimension: queryMatrix.dimension, values: values)
        }
        guard baseFile.matrix.count == served.count else { throw ValidationError("--base has \(baseFile.matrix.count) vectors; the index \(served.count)") }
        let settings: [(label: String, parameters: SearchParameters)]
        if served is HNSWIndex {
            settings = (ef.isEmpty ? [64, 128, 256] : ef).map { ("ef \($0)", SearchParameters(ef: $0)) }
        } else if served is IVFPQIndex {
            settings = (nprobe.isEmpty ? [16, 32, 64] : nprobe).map { ("nprobe \($0)", SearchParameters(nprobe: $0, rerank: rerank)) }
        } else {
            settings = [("", SearchParameters())]
        }
        if let writeMasks {
            try FileManager.default.createDirectory(atPath: writeMasks, withIntermediateDirectories: true)
            for s in share {
                var mask = [UInt8](repeating: 0, count: baseFile.matrix.count)
                for id in FilteredBenchmark.allowedItems(count: mask.count, share: s, seed: seed) { mask[Int(id)] = 1 }
                try Data(mask).write(to: URL(fileURLWithPath: "\(writeMasks)/allowed-\(s).u8"))
            }
        }
        let rows = try FilteredBenchmark(index: served, base: baseFile.matrix, queries: queryMatrix, k: k, seed: seed)
            .run(shares: share, settings: settings) { FileHandle.standardError.write(Data(($0 + "\n").utf8)) }
        print("| allowed | items | method | setting | recall@\(k) | queries/s |")
        print("|---|---|---|---|---|---|")
        for r in rows {
            print(String(format: "| %@ | %d | %@ | %@ | %.4f | %.0f |", String(format: "%g%%", r.share * 100), r.allowed,
                         r.method, r.setting, r.recall, r.queriesPerSecond))
        }
    }
}
