import Foundation
import ShortlistCore
import Synchronization

/// Counters and latency histograms for `stats` and the Prometheus endpoint. Latency is measured
/// from the moment a request line is framed until its reply is encoded (queueing included).
final class ServerStats: Sendable {
    struct OpRecord {
        var requests: UInt64 = 0
        var errors: UInt64 = 0
        var latency = LatencyHistogram()
    }

    struct Snapshot {
        var ops: [String: OpRecord]
        var errorsByCode: [String: UInt64]
        var connectionsOpen: Int
        var connectionsTotal: UInt64
        var connectionsRefused: UInt64
        var uptimeSeconds: Double
        var residentBytes: Int
    }

    private struct State {
        var ops: [String: OpRecord] = [:]
        var errorsByCode: [String: UInt64] = [:]
        var connectionsTotal: UInt64 = 0
        var connectionsRefused: UInt64 = 0
    }

    private let state = Mutex(State())
    let connectionsOpen = Atomic<Int>(0)
    private let started = Date()

    /// Records one answered request: `op` is the request's op, or "invalid" when it had none.
    func record(op: String, nanoseconds: UInt64, error: ProtocolError.Code?) {
        state.withLock { s in
            s.ops[op, default: OpRecord()].requests &+= 1
            s.ops[op]!.latency.record(nanoseconds)
            if let error {
                s.ops[op]!.errors &+= 1
                s.errorsByCode[error.rawValue, default: 0] &+= 1
            }
        }
    }

    /// Records an error that belongs to no request (an over-long line, a refused connection).
    func recordError(_ code: ProtocolError.Code) {
        state.withLock { s in s.errorsByCode[code.rawValue, default: 0] &+= 1 }
    }

    func connectionOpened() {
        connectionsOpen.add(1, ordering: .relaxed)
        state.withLock { $0.connectionsTotal &+= 1 }
    }

    func connectionClosed() { connectionsOpen.subtract(1, ordering: .relaxed) }

    func connectionRefused() {
        state.withLock { $0.connectionsRefused &+= 1 }
        recordError(.tooManyConnections)
    }

    func snapshot() -> Snapshot {
        let s = state.withLock { $0 }
        return Snapshot(ops: s.ops, errorsByCode: s.errorsByCode, connectionsOpen: connectionsOpen.load(ordering: .relaxed),
                        connectionsTotal: s.connectionsTotal, connectionsRefused: s.connectionsRefused,
                        uptimeSeconds: Date().timeIntervalSince(started), residentBytes: Self.residentBytes())
    }

    /// Resident set size from /proc/self/statm (0 where unavailable).
    static func residentBytes() -> Int {
        guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return 0 }
        let fields = text.split(separator: " ")
        guard fields.count > 1, let pages = Int(fields[1]) else { return 0 }
        return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
    }
}
