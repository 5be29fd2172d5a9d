import Foundation
import ShortlistIndex
import ShortlistProtocol

/// Checks, without changing anything, every file `serve` would read for a collection: the index
/// (loaded in full, as the server loads it, not only its checksums), the sealed and current
/// write-ahead log, and the server's payload file. `shortlist inspect` reports them, so a file it
/// passes is one the server starts with.
public enum CollectionFiles {
    /// One line per fact, or the error the server would stop with.
    public static func check(indexPath: String) throws -> [(label: String, value: String)] {
        var out: [(String, String)] = []
        let loaded = try IndexLoader.loadTuned(path: indexPath, extraSection: LogPosition.sectionTag)
        if let m = loaded.index as? any MutableVectorIndex {
            out.append(("rows", "\(m.rowIds.count) (\(m.count) live, \(m.deadRows) deleted)"))
        }
        out.append(("structure", "verified (loads as the server loads it)"))
        if let section = loaded.extra {
            out.append(("log position", "\(try LogPosition(section: section, path: indexPath)) (term:lsn of the last log record this snapshot holds)"))
        }
        let wal = indexPath + ".wal"
        var files = WriteAheadLog.segments(of: wal).map(\.path)
        if FileManager.default.fileExists(atPath: wal) { files.append(wal) }
        for file in files {
            let data = Array(try Data(contentsOf: URL(fileURLWithPath: file)))
            var first: LogPosition?
            let report = try WriteAheadLog.decode(data, path: file, after: .zero) { _, p in first = first ?? p }
            var text = "\(report.records) record\(report.records == 1 ? "" : "s"), \(data.count) bytes, version \(report.version)"
            if let first, report.version >= 3 { text += ", positions \(first) to \(report.last)" }
            if report.discardedBytes > 0 { text += "; a torn tail of \(report.discardedBytes) bytes (never acknowledged) will be cut at start" }
            out.append(((file as NSString).lastPathComponent, text))
        }
        let payloads = indexPath + ".payloads.jsonl"
        if FileManager.default.fileExists(atPath: payloads) {
            let read = try PayloadFile.read(path: payloads)
            out.append(((payloads as NSString).lastPathComponent, "\(read.count) payloads"))
        }
        return out
    }
}
