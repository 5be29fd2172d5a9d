import Foundation
import ShortlistProtocol

/// A primary's most recent log records, encoded as in the log, kept in memory for its
/// replicas: a replica that is behind by less than the backlog catches up from it; one that is
/// further behind (or whose log has diverged) gets a snapshot. Records are kept in lsn order
/// without gaps; the oldest go once the backlog passes `capacityBytes`.
///
/// Appends happen under the collection's write lock; replica links read concurrently and wait
/// for new records here.
final class ReplicationBacklog: @unchecked Sendable {
    /// Bytes of records kept (default 64 MiB): how far a replica may fall behind and still catch
    /// up without a snapshot.
    let capacityBytes: Int
    private let condition = NSCondition()
    /// The position just before the first record kept (what a snapshot at the start holds).
    private var base: LogPosition
    private var records: [(term: UInt64, bytes: [UInt8])] = []
    /// Index of the first live entry in `records` (trimmed entries are dropped in bulk).
    private var head = 0
    private var bytes = 0

    init(after base: LogPosition, capacityBytes: Int) {
        self.base = base
        self.capacityBytes = capacityBytes
    }

    /// The position of the newest record (or the base when empty).
    var last: LogPosition {
        condition.lock()
        defer { condition.unlock() }
        return lastLocked
    }

    private var lastLocked: LogPosition {
        records.count > head ? LogPosition(term: records[records.count - 1].term, lsn: base.lsn + UInt64(records.count - head)) : base
    }

    /// Adds the encoded records that follow the newest (`terms[i]` is record i's term), and
    /// wakes the links waiting for them.
    func append(_ encoded: [[UInt8]], terms: [UInt64]) {
        condition.lock()
        for (e, t) in zip(encoded, terms) {
            records.append((t, e))
            bytes += e.count
        }
        while bytes > capacityBytes && records.count - head > 1 {
            let gone = records[head]
            bytes -= gone.bytes.count
            base = LogPosition(term: gone.term, lsn: base.lsn + 1)
            head += 1
        }
        if head > 1_024 && head * 2 > records.count {
            records.removeFirst(head)
            head = 0
        }
        condition.broadcast()
        condition.unlock()
    }

    /// Adds a replayed record when it follows the newest one; a record the snapshot already
    /// holds is skipped, and one after a gap starts the backlog over after it.
    func remember(_ record: WriteAheadLog.Record, at position: LogPosition) {
        let newest = last
        guard position.lsn > newest.lsn else { return }
        var bytes: [UInt8] = []
        WriteAheadLog.encode(record, at: position, into: &bytes)
        // After a gap the term before it is unknown: no replica's position matches it.
        if position.lsn != newest.lsn + 1 { reset(after: LogPosition(term: .max, lsn: position.lsn - 1)) }
        append([bytes], terms: [position.term])
    }

    /// Forgets every record and starts after `position` (a snapshot installed on a replica).
    func reset(after position: LogPosition) {
        condition.lock()
        records = []
        head = 0
        bytes = 0
        base = position
        condition.broadcast()
        condition.unlock()
    }

    /// The term of the record at `lsn`, when the backlog knows it (the base's, or a kept record's).
    func term(at lsn: UInt64) -> UInt64? {
        condition.lock()
        defer { condition.unlock() }
        if lsn == base.lsn { return base.term }
        guard lsn > base.lsn, lsn - base.lsn <= UInt64(records.count - head) else { return nil }
        return records[head + Int(lsn - base.lsn) - 1].term
    }

    /// What follows `position` in the log, up to about `maximumBytes` (at least one record),
    /// concatenated, with the position of the last one; nil when the backlog no longer holds the
    /// record after `position` (or `position` is not in this log's history: the replica needs a
    /// snapshot). Waits up to `timeout` seconds for a record when there is none yet, then returns
    /// an empty batch.
    func records(after position: LogPosition, maximumBytes: Int, timeout: Double) -> (bytes: [UInt8], last: LogPosition)? {
        condition.lock()
        defer { condition.unlock() }
        let deadline = Date(timeIntervalSinceNow: timeout)
        if lastLocked.lsn < position.lsn { return nil }  // the replica is ahead: diverged
        while lastLocked.lsn == position.lsn {
            if !condition.wait(until: deadline) { break }
        }
        guard position.lsn >= base.lsn else { return nil }
        let available = records.count - head
        let skip = Int(position.lsn - base.lsn)
        if skip > available { return nil }
        let knownTerm = skip == 0 ? base.term : records[head + skip - 1].term
        guard knownTerm == position.term else { return nil }
        var out: [UInt8] = []
        var i = head + skip
        while i < records.count && (out.isEmpty || out.count + records[i].bytes.count <= maximumBytes) {
            out += records[i].bytes
            i += 1
        }
        let last = i == head + skip ? position : LogPosition(term: records[i - 1].term, lsn: base.lsn + UInt64(i - head))
        return (out, last)
    }
}
