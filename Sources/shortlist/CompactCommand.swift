import ArgumentParser
import ShortlistCore
import ShortlistIndex

struct CompactCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compact",
        abstract: "Rewrite an index without its deleted rows, reclaiming their memory.",
        discussion: """
        HNSW is rebuilt from its live vectors; IVF-PQ's lists are rewritten without the deleted \
        rows (codes copied, answers unchanged); a flat index never holds deleted rows. The index is \
        replaced atomically (or written to --output). Ids and settings are kept. A server compacts \
        its collections by itself as they change (docs/protocol.md).

        Example:
          shortlist compact index-data/items.idx
        """
    )

    @Argument(help: "Index file.")
    var index: String

    @Option(help: "Write the compacted index here instead of replacing the input.")
    var output: String?

    @Option(help: "Build threads (default: every core).")
    var threads: Int?

    func run() throws {
        Runtime.prepare()
        let loaded = try IndexLoader.load(path: index)
        let watch = Stopwatch()
        let before: Int, compacted: any VectorIndex, after: Int
        switch loaded {
        case let hnsw as HNSWIndex:
            before = hnsw.rows
            let c = try hnsw.compacted(threads: Runtime.threads(threads), progress: Terminal.progress("rebuilding"))
            (compacted, after) = (c, c.rows)
        case let ivf as IVFPQIndex:
            before = ivf.rows
            let c = try ivf.compacted()
            (compacted, after) = (c, c.rows)
        default:
            throw ValidationError("\(index) is a \(loaded.spec) index, which never holds deleted rows")
        }
        let destination = output ?? index
        try compacted.save(to: destination)
        print("compacted \(before) rows to \(after) (\(before - after) deleted rows dropped) in \(String(format: "%.2f", watch.seconds)) s → \(destination)")
    }
}
