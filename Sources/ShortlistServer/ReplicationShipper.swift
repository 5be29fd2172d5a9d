import Foundation
import ShortlistCore
import ShortlistProtocol

/// A cluster primary's replication of one collection: a `ReplicaLink` per replica ships the log,
/// and writes are acknowledged once `ackReplicas` replicas have them durable
/// (`whenReplicated`). A write that waits longer than `ackTimeout` gets `not_replicated`: it is
/// applied and logged here, but may not survive a failover.
final class ReplicationShipper: @unchecked Sendable {
    struct Settings: Sendable {
        /// Replicas that must have a write durable before it is acknowledged (default 0: ship
        /// in the background, acknowledge at once).
        var ackReplicas = 0
        /// Seconds a write waits for them before `not_replicated` (default 5).
        var ackTimeout = 5.0
        /// The token replicas authenticate with (the cluster's servers share one).
        var token: String?
        /// Raw bytes of records per `replicate` request (default 1 MiB, less when the line
        /// limit is lower: see `recordRoom`).
        var batchBytes = 1 << 20

        /// The most bytes of records one `replicate` line of `lineLimit` bytes carries (base64
        /// takes 4 characters per 3 bytes; 1 KiB is left for the rest of the line).
        static func recordRoom(lineLimit: Int) -> Int { max(0, lineLimit - 1_024) / 4 * 3 }
    }

    let collection: ServedCollection
    let term: UInt64
    let settings: Settings
    private let mutex = NSLock()
    private var links: [String: ReplicaLink] = [:]
    private var waiters: [(lsn: UInt64, deadline: UInt64, body: (ProtocolError?) -> Void)] = []
    private var timer: DispatchSourceTimer?
    private var stopped = false

    init(collection: ServedCollection, term: UInt64, settings: Settings) {
        self.collection = collection
        self.term = term
        self.settings = settings
        guard settings.ackReplicas > 0 else { return }
        let t = DispatchSource.makeTimerSource(queue: DispatchQueue(label: "shortlist.replication.timeouts"))
        t.schedule(deadline: .now() + .milliseconds(50), repeating: .milliseconds(50))
        t.setEventHandler { [weak self] in self?.expire() }
        t.resume()
        timer = t
    }

    /// The replicas to ship to, by `host:port`: links start for new ones and stop for gone ones.
    func update(replicas: Set<String>) {
        mutex.lock()
        defer { mutex.unlock() }
        guard !stopped else { return }
        for (address, link) in links where !replicas.contains(address) {
            link.stop()
            links[address] = nil
        }
        for address in replicas where links[address] == nil {
            guard let link = ReplicaLink(address: address, shipper: self) else { continue }
            links[address] = link
            link.start()
        }
    }

    /// Replicas' confirmed lsns, by address (for `stats` and tests).
    var confirmed: [String: UInt64] {
        mutex.lock()
        defer { mutex.unlock() }
        return links.mapValues(\.confirmed)
    }

    /// True when the record at `lsn` needs no waiting (enough replicas have it, or none is
    /// asked for); otherwise `body` is called once they do, or with `not_replicated` after the
    /// timeout (or when this server stops being primary).
    func whenReplicated(_ lsn: UInt64, _ body: @escaping (ProtocolError?) -> Void) -> Bool {
        guard settings.ackReplicas > 0 else { return true }
        mutex.lock()
        if stopped {
            mutex.unlock()
            body(ProtocolError(.notReplicated, "this server stopped being primary before the write was replicated; it is applied here but may not survive"))
            return false
        }
        if confirmedCount(lsn) >= settings.ackReplicas {
            mutex.unlock()
            return true
        }
        waiters.append((lsn, MonotonicClock.nanoseconds() + UInt64(settings.ackTimeout * 1e9), body))
        mutex.unlock()
        return false
    }

    private func confirmedCount(_ lsn: UInt64) -> Int {
        links.values.reduce(0) { $0 + ($1.confirmed >= lsn ? 1 : 0) }
    }

    /// A link's replica confirmed more: releases the writes now confirmed by enough replicas.
    func confirmationsChanged() {
        mutex.lock()
        var ready: [(ProtocolError?) -> Void] = []
        waiters.removeAll { w in
            guard confirmedCount(w.lsn) >= settings.ackReplicas else { return false }
            ready.append(w.body)
            return true
        }
        mutex.unlock()
        for body in ready { body(nil) }
    }

    private func expire() {
        let now = MonotonicClock.nanoseconds()
        mutex.lock()
        var late: [(ProtocolError?) -> Void] = []
        waiters.removeAll { w in
            guard w.deadline <= now else { return false }
            late.append(w.body)
            return true
        }
        let reached = links.count
        mutex.unlock()
        let error = ProtocolError(.notReplicated, "the write is applied and logged on the primary, but fewer than \(settings.ackReplicas) replica\(settings.ackReplicas == 1 ? "" : "s") confirmed it within \(settings.ackTimeout) s (\(reached) known); it may not survive a failover")
        for body in late { body(error) }
    }

    /// Stops every link and fails the writes still waiting (this server is no longer primary).
    func stop() {
        mutex.lock()
        stopped = true
        let all = Array(links.values)
        links = [:]
        let pending = waiters.map(\.body)
        waiters = []
        mutex.unlock()
        timer?.cancel()
        for link in all { link.stop() }
        let error = ProtocolError(.notReplicated, "this server stopped being primary before the write was replicated; it is applied here but may not survive")
        for body in pending { body(error) }
    }

    deinit { timer?.cancel() }
}
