import ArgumentParser
import ShortlistCore
import ShortlistData
import ShortlistIndex

struct BuildCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "build",
        abstract: "Build an index from a vector file and save it.",
        discussion: """
        Reads .fvecs, .ivecs, .bvecs, .npy (float32/64/16, C order) or .jsonl ({"id":…,"vector":[…]} per line).

        Example:
          shortlist build --input embeddings.npy --ids item_ids.txt --spec Flat --metric cosine --output index-data/items.idx
        """
    )

    @Option(help: "Vector file to index.")
    var input: String

    @Option(help: "Index spec: Flat.")
    var spec: String = "Flat"

    @Option(help: "Metric: l2, ip or cosine.")
    var metric: String = "l2"

    @Option(help: "Where to write the index file.")
    var output: String

    @Option(help: "Text file of external ids, one unsigned integer per line, row for row (default: row numbers, or the ids in a .jsonl input).")
    var ids: String?

    func run() throws {
        Runtime.prepare()
        guard let metric = Metric(name: metric) else {
            throw ValidationError("unknown metric '\(self.metric)'; use l2, ip or cosine")
        }
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
        let index: any VectorIndex
        switch spec {
        case .flat: index = try FlatIndex(metric: metric, vectors: file.matrix, ids: ids)
        }
        try index.save(to: output)
        print("built \(spec) index: \(index.count) vectors × \(index.dimension), metric \(metric), in \(String(format: "%.2f", watch.seconds)) s → \(output)")
    }
}
