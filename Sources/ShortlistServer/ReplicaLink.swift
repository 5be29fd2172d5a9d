import Foundation
import Logging
import ShortlistClient
import ShortlistProtocol
import Synchronization

/// A primary's connection to one replica, on a thread of its own: it asks where the replica's
/// log stands, then ships what follows from the backlog (`replicate`), or a snapshot
/// (`install`) when the backlog no longer reaches back that far or the replica's log has
/// diverged from this one. `confirmed` is the lsn the replica has durable and agrees with this
/// log up to.
final class ReplicaLink: @unchecked Sendable {
    let host: String
    let port: Int
    /// Held until the link's thread ends (`stop`), after the shipper has let the link go.
    private let shipper: ReplicationShipper
    private let confirmedLSN = Atomic<UInt64>(0)
    private let stopping = Atomic<Bool>(false)
    private let logger = Logger(label: "shortlist")

    /// Nil when `address` is not `host:port`.
    init?(address: String, shipper: ReplicationShipper) {
        guard let colon = address.lastIndex(of: ":"), let port = Int(address[address.index(after: colon)...]) else { return nil }
        host = String(address[..<colon])
        self.port = port
        self.shipper = shipper
    }

    var confirmed: UInt64 { confirmedLSN.load(ordering: .acquiring) }

    func start() {
        let t = Thread { [self] in run() }
        t.name = "shortlist-replica-link"
        t.start()
    }

    func stop() { stopping.store(true, ordering: .releasing) }

    private var collection: ServedCollection { shipper.collection }

    private func run() {
        var client: ShortlistClient?
        var cursor: LogPosition?
        var failures = 0
        while !stopping.load(ordering: .acquiring) {
            do {
                let c: ShortlistClient
                if let client { c = client } else {
                    c = try ShortlistClient(host: host, port: port, token: shipper.settings.token, timeout: 10)
                    client = c
                }
                if cursor == nil { cursor = try handshake(c) }
                guard let backlog = collection.log?.backlog else {
                    logger.error("replication to \(host):\(port): collection '\(collection.name)' keeps no backlog; nothing can be shipped")
                    return
                }
                guard let batch = backlog.records(after: cursor!, maximumBytes: shipper.settings.batchBytes, timeout: 0.2) else {
                    cursor = try installSnapshot(c)
                    continue
                }
                guard !batch.bytes.isEmpty else { continue }
                let reply = try ResultDecoder.replication(try c.call(.replicate(.init(collection: collection.name, term: shipper.term, position: cursor, records: batch.bytes))))
                if reply.accepted, reply.position == batch.last {
                    cursor = batch.last
                    confirm(batch.last.lsn)
                } else {
                    cursor = nil  // the replica moved: ask again
                }
                failures = 0
            } catch {
                client?.close()
                client = nil
                cursor = nil
                failures += 1
                if failures == 1 || failures % 50 == 0 {
                    logger.warning("replication to \(host):\(port): \(error)")
                }
                if let e = error as? ProtocolError, e.code == .staleTerm { Thread.sleep(forTimeInterval: 1) }
                Thread.sleep(forTimeInterval: min(1, 0.05 * Double(failures)))
            }
        }
    }

    /// Asks where the replica's log stands; confirms it when it agrees with this log.
    private func handshake(_ c: ShortlistClient) throws -> LogPosition {
        let reply = try ResultDecoder.replication(try c.call(.replicate(.init(collection: collection.name, term: shipper.term))))
        guard let position = reply.position else { throw ProtocolError(.internalError, "the replica's reply has no position") }
        if collection.log?.backlog?.term(at: position.lsn) == position.term { confirm(position.lsn) }
        return position
    }

    /// Sends a fresh snapshot in parts and commits it; returns the position it holds.
    private func installSnapshot(_ c: ShortlistClient) throws -> LogPosition {
        let snapshot = try collection.snapshotFiles()
        logger.notice("replication to \(host):\(port): sending a snapshot at \(snapshot.position) (\(snapshot.index.count + (snapshot.payloads?.count ?? 0)) bytes)")
        let name = collection.name, term = shipper.term, chunk = shipper.settings.batchBytes
        for (part, bytes) in [(Request.Install.Part.index, snapshot.index), (.payloads, snapshot.payloads)] {
            guard let bytes else { continue }
            var offset = 0
            repeat {
                let end = min(bytes.count, offset + chunk)
                _ = try c.call(.install(.init(collection: name, term: term, part: part, offset: offset, data: Array(bytes[offset..<end]))))
                offset = end
            } while offset < bytes.count && !stopping.load(ordering: .acquiring)
        }
        _ = try c.call(.install(.init(collection: name, term: term, commit: snapshot.position)))
        confirm(snapshot.position.lsn)
        return snapshot.position
    }

    private func confirm(_ lsn: UInt64) {
        confirmedLSN.store(lsn, ordering: .releasing)
        shipper.confirmationsChanged()
    }
}
