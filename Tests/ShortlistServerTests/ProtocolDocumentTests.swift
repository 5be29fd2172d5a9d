import Foundation
import ShortlistCore
import ShortlistTestSupport
import XCTest
@testable import ShortlistServer
import ShortlistProtocol

/// Runs every example in docs/protocol.md against live servers over loopback and checks each
/// reply. Blocks are fenced as ```protocol [setting]; lines starting "→ " are sent, lines
/// starting "← " are the expected replies, matched by their "id". In expected replies the string
/// "…" matches any value, and timings and gauges (`took_us`, `uptime_s`, `*_us`, `*_ms`, `*_bytes`, `pending`) any number.
/// `⟨N × "text"⟩` in a request stands for text repeated N times.
/// Settings: none (the main server, one connection for the whole document), `auth`,
/// `connections`, `idle`, `overloaded`, `shutting-down`, `not-primary`, `replication`,
/// `not-replicated`, `io-error`.
/// With SHORTLIST_PRINT_PROTOCOL=1 the actual replies are printed, for writing the document.
final class ProtocolDocumentTests: XCTestCase {
    struct Example {
        var setting: String
        var requests: [String] = []
        var replies: [String] = []
        var line: Int
    }

    static func examples(in text: String) -> [Example] {
        var out: [Example] = []
        var current: Example?
        for (n, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = String(raw)
            if current == nil, line.hasPrefix("```protocol") {
                current = Example(setting: line.dropFirst(11).trimmingCharacters(in: .whitespaces), line: n + 1)
            } else if current != nil, line.hasPrefix("```") {
                out.append(current!)
                current = nil
            } else if line.hasPrefix("→ ") {
                current?.requests.append(String(line.dropFirst(2)))
            } else if line.hasPrefix("← ") {
                current?.replies.append(String(line.dropFirst(2)))
            }
        }
        return out
    }

    /// Expands ⟨N × "text"⟩.
    static func expand(_ request: String) -> String {
        var s = request
        while let open = s.range(of: "⟨"), let close = s.range(of: "⟩", range: open.upperBound..<s.endIndex) {
            let inner = s[open.upperBound..<close.lowerBound]
            let parts = inner.components(separatedBy: " × ")
            let count = Int(parts[0])!
            let text = String(parts[1].dropFirst().dropLast())
            s.replaceSubrange(open.lowerBound..<close.upperBound, with: String(repeating: text, count: count))
        }
        return s
    }

    static let volatileNumbers: Set<String> = ["took_us", "uptime_s", "resident_bytes", "memory_bytes", "mean_us", "pending", "log_bytes", "last_copy_ms", "last_total_ms", "last_ms"]

    static func matches(_ expected: Any, _ actual: Any, key: String = "", path: String = "") -> String? {
        if let s = expected as? String, s == "…" { return nil }
        if volatileNumbers.contains(key) || key.hasSuffix("_us") {
            return actual is NSNumber ? nil : "\(path): expected a number"
        }
        switch (expected, actual) {
        case let (e as [String: Any], a as [String: Any]):
            if Set(e.keys) != Set(a.keys) { return "\(path): keys \(e.keys.sorted()) vs \(a.keys.sorted())" }
            for k in e.keys { if let m = matches(e[k]!, a[k]!, key: k, path: path + "." + k) { return m } }
            return nil
        case let (e as [Any], a as [Any]):
            if e.count != a.count { return "\(path): \(e.count) elements vs \(a.count)" }
            for i in e.indices { if let m = matches(e[i], a[i], key: key, path: path + "[\(i)]") { return m } }
            return nil
        case let (e as NSNumber, a as NSNumber):
            return abs(e.doubleValue - a.doubleValue) <= 1e-5 * max(1, abs(e.doubleValue)) ? nil : "\(path): \(e) vs \(a)"
        case let (e as String, a as String):
            return e == a ? nil : "\(path): \"\(e)\" vs \"\(a)\""
        case (is NSNull, is NSNull):
            return nil
        default:
            return "\(path): \(expected) vs \(actual)"
        }
    }

    static func parse(_ line: String) -> Any? {
        try? JSONSerialization.jsonObject(with: Data(line.utf8), options: [.fragmentsAllowed])
    }

    func testEveryExampleInTheProtocolDocument() throws {
        let docPath = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../docs/protocol.md").standardized.path
        let text = try String(contentsOfFile: docPath, encoding: .utf8)
        let examples = Self.examples(in: text)
        XCTAssertGreaterThan(examples.count, 20)
        let printing = ProcessInfo.processInfo.environment["SHORTLIST_PRINT_PROTOCOL"] != nil

        let dir = TemporaryDirectory()
        let items = try ServerFixtures.writeDocumentCollection(in: dir)
        let movies = try ServerFixtures.writeRecommenderCollection(in: dir)
        let shows = try ServerFixtures.writeFeatureCollection(in: dir)
        let main = try RunningServer([items, movies, shows])
        let auth = try RunningServer([items]) { $0.authToken = "s3cret" }
        let limited = try RunningServer([items]) {
            $0.limits.maximumConnections = 1
            $0.limits.idleTimeoutSeconds = 1
            $0.limits.maximumInFlightPerConnection = 1
        }
        let brokenDir = TemporaryDirectory()
        let broken = try RunningServer([try ServerFixtures.writeDocumentCollection(in: brokenDir)])
        // A cluster member's collection with a log, for replicate and install (terms below 5 are
        // stale), and a primary whose replica never confirms.
        let replicationDir = TemporaryDirectory()
        let replicating = try RunningServer([try ServerFixtures.writeDocumentCollection(in: replicationDir)], durability: .always)
        replicating.server.processor.replicationGate = { term in
            term < 5 ? ProtocolError(.staleTerm, "term \(term) is older than term 5, which this server has seen; the sender is no longer primary") : nil
        }
        let mainClient = try main.client()
        var covered = Set<String>()

        for example in examples {
            let where_ = "docs/protocol.md:\(example.line)"
            var actual: [String] = []
            switch example.setting {
            case "":
                for r in example.requests { actual.append(try mainClient.request(Self.expand(r))) }
            case "auth":
                let c = try auth.client()
                for r in example.requests { actual.append(try c.request(Self.expand(r))) }
            case "overloaded":
                let c = try limited.client()
                try c.send(Array((example.requests.map(Self.expand).joined(separator: "\n") + "\n").utf8))
                for _ in example.replies { actual.append(String(decoding: try XCTUnwrap(c.readLine()), as: UTF8.self)) }
            case "connections":
                let holder = try limited.client()
                _ = try holder.request(#"{"op":"ping"}"#)
                let c = try limited.client()
                actual.append(String(decoding: try XCTUnwrap(c.readLine()), as: UTF8.self))
                usleep(100_000)
            case "idle":
                usleep(300_000)
                let c = try limited.client()
                actual.append(String(decoding: try XCTUnwrap(c.readLine()), as: UTF8.self))
                usleep(200_000)
            case "shutting-down":
                main.server.processor.shuttingDown.store(true, ordering: .relaxed)
                for r in example.requests { actual.append(try mainClient.request(Self.expand(r))) }
                main.server.processor.shuttingDown.store(false, ordering: .relaxed)
            case "not-primary":
                main.server.processor.writeGate = { ProtocolError(.notPrimary, "this server is a replica of shard 0 of 'items'; the primary is 'b'") }
                for r in example.requests { actual.append(try mainClient.request(Self.expand(r))) }
                main.server.processor.writeGate = nil
            case "replication":
                let c = try replicating.client()
                for r in example.requests { actual.append(try c.request(Self.expand(r))) }
            case "not-replicated":
                let collection = try XCTUnwrap(replicating.server.processor.collections["items"])
                var settings = ReplicationShipper.Settings()
                settings.ackReplicas = 1
                settings.ackTimeout = 0.2
                let shipper = ReplicationShipper(collection: collection, term: 6, settings: settings)
                collection.shipper = shipper
                let c = try replicating.client()
                for r in example.requests { actual.append(try c.request(Self.expand(r))) }
                collection.shipper = nil
                shipper.stop()
            case "io-error":
                try FileManager.default.removeItem(atPath: brokenDir.path)
                let c = try broken.client()
                for r in example.requests { actual.append(try c.request(Self.expand(r))) }
            default:
                XCTFail("\(where_): unknown setting '\(example.setting)'")
                continue
            }
            if printing {
                print("--- \(where_) [\(example.setting)]")
                for (r, a) in zip(example.requests + Array(repeating: "", count: max(0, actual.count - example.requests.count)), actual) {
                    if !r.isEmpty { print("→ " + r) }
                    print("← " + a)
                }
                continue
            }
            XCTAssertEqual(actual.count, example.replies.count, "\(where_): replies")
            // Match replies by id (replies may come in any order); ids are unique within a block.
            var byId: [String: Any] = [:]
            for a in actual {
                guard let o = Self.parse(a) as? [String: Any] else { XCTFail("\(where_): reply is not JSON: \(a)"); continue }
                byId["\(o["id"] ?? "nil")", default: []] = ((byId["\(o["id"] ?? "nil")"] as? [Any]) ?? []) + [o]
                if let code = (o["error"] as? [String: Any])?["code"] as? String { covered.insert(code) }
            }
            for e in example.replies {
                guard let eo = Self.parse(e) as? [String: Any] else { XCTFail("\(where_): expected reply is not JSON: \(e)"); continue }
                var candidates = (byId["\(eo["id"] ?? "nil")"] as? [Any]) ?? []
                guard let i = candidates.firstIndex(where: { Self.matches(eo, $0) == nil }) else {
                    let why = candidates.first.flatMap { Self.matches(eo, $0) } ?? "no reply with this id"
                    XCTFail("\(where_): \(e)\n  differs: \(why)\n  got: \(actual.joined(separator: "\n       "))")
                    continue
                }
                candidates.remove(at: i)
                byId["\(eo["id"] ?? "nil")"] = candidates
            }
        }
        if !printing {
            // Every error code but `internal` (a bug by definition) has an example.
            let wanted = Set(ProtocolError.Code.allCases.map(\.rawValue)).subtracting(["internal"])
            XCTAssertEqual(wanted.subtracting(covered), [], "error codes without an example in docs/protocol.md")
        }
    }
}
