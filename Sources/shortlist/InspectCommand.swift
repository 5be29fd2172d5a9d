import ArgumentParser
import Foundation
import ShortlistCore
import ShortlistIndex

struct InspectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "Show an index file's kind, metric, dimension, count, size, format version and checksums (all verified).",
        discussion: "Example:\n  shortlist inspect index-data/items.idx"
    )

    @Argument(help: "Index file.")
    var index: String

    func run() throws {
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
    }
}
