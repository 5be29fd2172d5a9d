import Foundation
import Logging
import ShortlistCore

/// swift-log's handler for the server: one line per message on standard error (or any sink), as
/// text (`2026-12-06T21:30:00.123Z info shortlist: listening port=7700`) or as one JSON object
/// (`{"ts":"…","level":"info","label":"shortlist","msg":"listening","port":"7700"}`), for log
/// collectors. Messages below `logLevel` are dropped. Metadata values are written as strings
/// (lists and dictionaries in swift-log's own rendering).
public struct ServerLogHandler: LogHandler {
    public enum Format: String, CaseIterable, Sendable {
        case text, json
    }

    public var logLevel: Logger.Level
    public var metadata: Logger.Metadata = [:]
    private let label: String
    private let format: Format
    private let sink: @Sendable ([UInt8]) -> Void

    /// `sink` receives each finished line, newline included (default: standard error, one write).
    public init(label: String, level: Logger.Level = .info, format: Format = .text,
                sink: @escaping @Sendable ([UInt8]) -> Void = ServerLogHandler.standardError) {
        self.label = label
        logLevel = level
        self.format = format
        self.sink = sink
    }

    public static let standardError: @Sendable ([UInt8]) -> Void = { bytes in
        bytes.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let n = write(2, raw.baseAddress! + offset, raw.count - offset)
                if n <= 0 { break }
                offset += n
            }
        }
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        let level = event.level, message = event.message
        var merged = event.metadata.map { metadata.merging($0) { _, new in new } } ?? metadata
        if let error = event.error { merged["error"] = "\(error)" }
        let fields = merged.sorted { $0.key < $1.key }
        let time = Self.timestamp()
        switch format {
        case .text:
            var text = "\(time) \(level) \(label): \(message)"
            for (key, value) in fields { text += " \(key)=\(value)" }
            sink(Array((text + "\n").utf8))
        case .json:
            var out = JSONOutput(capacity: 128)
            out.raw("{")
            out.key("ts")
            out.string(time)
            out.comma()
            out.key("level")
            out.string(level.rawValue)
            out.comma()
            out.key("label")
            out.string(label)
            out.comma()
            out.key("msg")
            out.string(message.description)
            for (key, value) in fields where !["ts", "level", "label", "msg"].contains(key) {
                out.comma()
                out.string(key)
                out.raw(":")
                out.string("\(value)")
            }
            out.raw("}\n")
            sink(out.bytes)
        }
    }

    /// UTC, milliseconds: `2026-12-06T21:30:00.123Z`.
    static func timestamp(_ date: Date = Date()) -> String {
        var seconds = time_t(date.timeIntervalSince1970)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        let millis = Int((date.timeIntervalSince1970 - Double(seconds)) * 1000)
        return String(format: "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", Int(parts.tm_year) + 1900, Int(parts.tm_mon) + 1, Int(parts.tm_mday),
                      Int(parts.tm_hour), Int(parts.tm_min), Int(parts.tm_sec), min(999, max(0, millis)))
    }
}
