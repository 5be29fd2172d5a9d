import ArgumentParser
import ShortlistCore
import ShortlistData
import ShortlistClient
import ShortlistIndex

struct BuildCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "build",
        abstract: "Build an index from a vector file and save it.",
        usage: "shortlist build --input <file> --spec <spec> --output <file> [<options>]",
        discussion: """
        Reads .fvecs, .ivecs, .bvecs, .npy (float32/64/16, C order) or .jsonl ({"id":…,"vector":[…]} per line).

        Example:
          shortlist build --input embeddings.npy --ids item_ids.txt --spec Flat \\
              --metric cosine --output index-data/items.idx
          shortlist build --input base.fvecs --spec HNSW16 --ef-construction 200 \\
              --metric l2 --output index-data/base.idx
          shortlist build --input base.fvecs --spec "IVF1024,PQ48,Refine" \\
              --train-size 100000 --metric l2 --output index-data/ivf.idx
        """
    )

    @Option(help: "Vector file to index.")
    var input: String

    @Option(help: "Index spec: Flat; HNSW<m> such as HNSW16 (m links per node, 2m on layer 0); HNSW16,SQfp16 (vectors in half precision: half the memory, faster); HNSW16,SQ8 (walked on 8-bit codes, re-ranked in half precision: the fastest HNSW); IVF<nlist>,PQ<m>[,Refine] such as \"IVF1024,PQ16,Refine\".")
    var spec: String = "Flat"

    @Option(help: "Metric: l2, ip or cosine.")
    var metric: Metric = .l2

    @Option(help: "Where to write the index file.")
    var output: String

    @Option(name: .customLong("ef-construction"), help: "HNSW: candidate list size while inserting (larger: better graph, slower build).")
    var efConstruction: Int = 200

    @Option(name: .customLong("train-size"), help: "IVF-PQ: vectors sampled to train the quantizers (default: min(count, max(64·nlist, 65536))).")
    var trainSize: Int?

    @Option(help: "Build threads (default: every core). One thread with a fixed --seed builds the same graph every time.")
    var threads: Int?

    @Option(help: "Seed of every random choice in the build.")
    var seed: UInt64 = SeededGenerator.defaultSeed

    @Option(help: "Text file of external ids, one unsigned integer per line, row for row (default: row numbers, or the ids in a .jsonl input).")
    var ids: String?

    @Option(help: "Index only the rows of one shard of a cluster, S/N (such as 0/2): those whose id lands on shard S of N (docs/cluster.md).")
    var shard: String?

    @Flag(name: .customLong("keep-input-order"), help: "HNSW: store rows in the input's order instead of renumbering them for locality (searches are slower at scale; for comparisons).")
    var keepInputOrder = false

    func run() throws {
        Runtime.prepare()
        let spec = try IndexSpec(parsing: spec)
        let watch = Stopwatch()
        let file = try VectorFile.read(path: input, progress: Terminal.progress("reading \(input)"))
        var ids = file.ids
        if let idsPath = self.ids {
            let given = try IdFile.read(path: idsPath)
            guard given.count == file.matrix.count else {
                throw VectorFileError.countMismatch(path: idsPath, expected: file.matrix.count, actual: given.count)
            }
            ids = given
        }
        var matrix = file.matrix
        if let shard {
            let parts = shard.split(separator: "/").compactMap { Int($0) }
            guard parts.count == 2, parts[1] >= 1, (0..<parts[1]).contains(parts[0]) else { throw ValidationError("--shard is S/N with 0 ≤ S < N, such as 0/2") }
            let all = ids ?? (0..<UInt64(matrix.count)).map { $0 }
            let rows = all.indices.filter { ClusterLayout.shard(of: all[$0], shards: parts[1]) == parts[0] }
            guard !rows.isEmpty else { throw ValidationError("--shard \(shard): no row of \(input) lands on that shard") }
            matrix = try VectorMatrix(dimension: matrix.dimension, values: rows.flatMap { matrix.rowArray($0) })
            ids = rows.map { all[$0] }
            print("shard \(shard): \(rows.count) of \(all.count) rows")
        }
        let threads = Runtime.threads(self.threads)
        let label: String
        switch spec {
        case .flat: label = "indexing"
        case .hnsw: label = "building \(spec)"
        case .ivfpq: label = "training and adding \(spec)"
        }
        let index = try spec.build(metric: metric, vectors: matrix, ids: ids, efConstruction: efConstruction,
                                   trainSize: trainSize, localityOrder: !keepInputOrder, threads: threads, seed: seed, progress: Terminal.progress(label))
        try index.save(to: output)
        print("built \(spec) index: \(index.count) vectors × \(index.dimension), metric \(metric), in \(String(format: "%.2f", watch.seconds)) s (\(threads) thread\(threads == 1 ? "" : "s")) → \(output)")
    }
}
