import ArgumentParser
import ShortlistCore
import ShortlistIndex

struct CompactCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compact",
        abstract: "Rebuild an HNSW index without its deleted vectors, reclaiming their memory.",
        discussion: """
        The index is replaced atomically (or written to --output). Ids and settings are kept.

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
        guard let hnsw = loaded as? HNSWIndex else {
            throw ValidationError("\(index) is a \(loaded.spec) index; only HNSW indexes hold deleted rows to compact")
        }
        let watch = Stopwatch()
        let before = hnsw.rows
        let compacted = try hnsw.compacted(threads: Runtime.threads(threads), progress: Terminal.progress("rebuilding"))
        let destination = output ?? index
        try compacted.save(to: destination)
        print("compacted \(before) rows to \(compacted.rows) (\(before - compacted.rows) deleted rows dropped) in \(String(format: "%.2f", watch.seconds)) s → \(destination)")
    }
}
