import ArgumentParser
import Foundation
import ShortlistCore
import ShortlistIndex
import ShortlistModel
import ShortlistServer
import ShortlistTrainer

struct InspectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "Show an index or model file's kind, shape, format version and checksums, and check it as the server would (full load, write-ahead log, payloads).",
        discussion: "Examples:\n  shortlist inspect index-data/items.idx\n  shortlist inspect index-data/movielens/model.slm"
    )

    @Argument(help: "Index file (.idx) or model file / checkpoint (.slm).")
    var index: String

    func run() throws {
        if ModelFile.isModelFile(path: index) {
            for (label, value) in try ModelFile.describe(path: index) {
                print(label.padding(toLength: 16, withPad: " ", startingAt: 0) + value)
            }
            return
        }
        let contents = try IndexFile.read(path: index)
        let h = contents.header
        let meta = try contents.sections["META"].map { try IndexMetadata(decoding: $0, path: index) } ?? IndexMetadata()
        print("file            \(index)")
        print("format version  v\(h.formatVersion)")
        print("kind            \(h.kind)")
        print("spec            \(meta["spec"] ?? "?")")
        print("metric          \(h.metric)")
        print("dimension       \(h.dimension)")
        print("count           \(h.count)")
        print("size            \(contents.file.count) bytes (\(String(format: "%.1f", Double(contents.file.count) / 1_048_576)) MiB)")
        if let writer = meta["writer"] { print("written by      \(writer)") }
        print("sections (all checksums verified):")
        for s in contents.sectionList {
            print(String(format: "  %@  %12d bytes  crc32c %08x", s.tag, s.length, s.crc))
        }
        // What the server would also read and check: the whole structure, the log, the payloads.
        for (label, value) in try CollectionFiles.check(indexPath: index) {
            print(label.padding(toLength: 16, withPad: " ", startingAt: 0) + value)
        }
    }
}
