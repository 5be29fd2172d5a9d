import Foundation
import ShortlistCore
import ShortlistProtocol
#if canImport(Glibc)
import Glibc
#endif

/// The log's syncing: group commit of `fdatasync`s, and the replies waiting for them.
extension WriteAheadLog {
    /// Shared by the log and its syncer thread (which must not keep the log alive).
    final class SyncState: @unchecked Sendable {
        let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
        let wake = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
        /// The file syncs go to (read under `mutex`; `seal` replaces it).
        var fd: Int32
        /// After a `seal` and until `finishSeal`: the sealed file, whose last records may not be
        /// synced yet, and the folder, whose new entries may not be. A sync that acknowledges
        /// replies covers them too, so no reply waits for `finishSeal` and none is sent early.
        var sealedFD: Int32?
        var directoryToSync: String?
        /// With `always`: whether concurrent writers share syncs (default). Without, every write
        /// makes its own sync, one at a time: kept only to measure what group commit gains.
        let groupCommit: Bool
        /// The lsn of the last record appended, and of the last known durable.
        var appended: UInt64
        var durable: UInt64
        /// Replies waiting for their record's sync, in sequence order.
        var waiters: [(sequence: UInt64, body: (ProtocolError?) -> Void)] = []
        /// Set when a sync failed: later writes are refused, since what is on disk is unknown.
        var failure: String?
        var syncCount = 0
        var stopped = false
        let exited = DispatchSemaphore(value: 0)

        init(fd: Int32, groupCommit: Bool, lsn: UInt64) {
            self.fd = fd
            self.groupCommit = groupCommit
            appended = lsn
            durable = lsn
            pthread_mutex_init(mutex, nil)
            pthread_cond_init(wake, nil)
        }

        deinit {
            pthread_mutex_destroy(mutex)
            pthread_cond_destroy(wake)
            mutex.deallocate()
            wake.deallocate()
        }

        func locked<R>(_ body: () throws -> R) rethrows -> R {
            pthread_mutex_lock(mutex)
            defer { pthread_mutex_unlock(mutex) }
            return try body()
        }

        /// Syncs the current file, and after a seal the sealed file and the folder; nil when all
        /// went well, else the reason.
        func syncNow() -> String? {
            let (fd, sealed, directory) = locked { (self.fd, sealedFD, directoryToSync) }
            if let sealed, fdatasync(sealed) != 0 { return String(cString: strerror(errno)) }
            if let directory {
                do { try AtomicFileWriter.syncDirectory(of: directory) } catch { return "\(error)" }
            }
            if fdatasync(fd) != 0 { return String(cString: strerror(errno)) }
            return nil
        }

        /// The syncer: one `fdatasync` for everything appended when it starts (or, without group
        /// commit, for the oldest waiter only), then the replies it covers.
        func run() {
            while true {
                pthread_mutex_lock(mutex)
                while waiters.isEmpty && !stopped { pthread_cond_wait(wake, mutex) }
                if waiters.isEmpty && stopped {
                    pthread_mutex_unlock(mutex)
                    exited.signal()
                    return
                }
                let target = groupCommit ? appended : waiters[0].sequence
                pthread_mutex_unlock(mutex)
                let reason = syncNow()
                let ok = reason == nil
                pthread_mutex_lock(mutex)
                syncCount += 1
                var ready: [(ProtocolError?) -> Void] = []
                if ok {
                    durable = max(durable, target)
                    let n = waiters.prefix { $0.sequence <= durable }.count
                    ready = waiters.prefix(n).map(\.body)
                    waiters.removeFirst(n)
                } else {
                    failure = reason
                    ready = waiters.map(\.body)
                    waiters.removeAll()
                }
                pthread_mutex_unlock(mutex)
                let error = ok ? nil : ProtocolError(.ioError, "syncing the write-ahead log failed: \(reason ?? "?")")
                for body in ready { body(error) }
            }
        }
    }
}
