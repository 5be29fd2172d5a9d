import Foundation
import Prometheus
import ShortlistCore
import ShortlistProtocol
import Synchronization

/// Counters and latency histograms for `stats` and the Prometheus endpoint. Latency is measured
/// from the moment a request line is framed until its reply is encoded (queueing included):
/// `stats` reads percentiles from `LatencyHistogram`s; `/metrics` serves Prometheus histograms
/// with fixed buckets (`registry`), which a scraper can aggregate over any window.
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

    /// Records by op, in `Request.Op.allCases` order, then one for lines without a valid op.
    static let opNames = Request.Op.allCases.map(\.rawValue) + ["invalid"]

    private struct State {
        var ops = [OpRecord](repeating: OpRecord(), count: ServerStats.opNames.count)
        var errorsByCode: [String: UInt64] = [:]
        var connectionsTotal: UInt64 = 0
        var connectionsRefused: UInt64 = 0
    }

    private let state = Mutex(State())
    let connectionsOpen = Atomic<Int>(0)
    /// Queued reads dropped because their connection had gone.
    let droppedForClosedConnections = Atomic<UInt64>(0)
    private let started = Date()
    /// The Prometheus collectors: `shortlist_request_duration_seconds`, one histogram per op.
    let registry = PrometheusCollectorRegistry()
    private let durations: [DurationHistogram]
    /// Upper bounds of the latency buckets: 25 µs to 10 s, about ×2–2.5 apart.
    static let durationBuckets: [Duration] = [
        .microseconds(25), .microseconds(50), .microseconds(100), .microseconds(250), .microseconds(500),
        .milliseconds(1), .microseconds(2500), .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50),
        .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .microseconds(2_500_000), .seconds(10),
    ]

    init() {
        let descriptor = MetricNameDescriptor(namespace: "shortlist", metricName: "request_duration", unitName: "seconds",
                                              helpText: "Time from a request line being read to its reply being encoded (queueing included), by op.")
        let registry = self.registry
        durations = Self.opNames.map { registry.makeDurationHistogram(descriptor: descriptor, labels: [("op", $0)], buckets: Self.durationBuckets) }
    }

    private static let opIndex: [Request.Op: Int] = Dictionary(uniqueKeysWithValues: Request.Op.allCases.enumerated().map { ($1, $0) })

    /// Records one answered request: `op` is the request's op, nil when the line had no valid op.
    func record(op: Request.Op?, nanoseconds: UInt64, error: ProtocolError.Code?) {
        let i = op.map { Self.opIndex[$0]! } ?? Self.opNames.count - 1
        durations[i].recordNanoseconds(Int64(clamping: nanoseconds))
        state.withLock { s in
            s.ops[i].requests &+= 1
            s.ops[i].latency.record(nanoseconds)
            if let error {
                s.ops[i].errors &+= 1
                s.errorsByCode[error.rawValue, default: 0] &+= 1
            }
        }
    }

    /// Records an error that belongs to no request (an over-long line, a refused connection).
    func recordError(_ code: ProtocolError.Code) {
        state.withLock { s in s.errorsByCode[code.rawValue, default: 0] &+= 1 }
    }

    func recordDropped() { droppedForClosedConnections.add(1, ordering: .relaxed) }

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
        var ops: [String: OpRecord] = [:]
        for (i, r) in s.ops.enumerated() where r.requests > 0 { ops[Self.opNames[i]] = r }
        return Snapshot(ops: ops, errorsByCode: s.errorsByCode, connectionsOpen: connectionsOpen.load(ordering: .relaxed),
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
