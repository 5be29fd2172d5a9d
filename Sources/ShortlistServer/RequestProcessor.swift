import Foundation
import ShortlistCore
import ShortlistProtocol
import Synchronization

/// Everything the server does with a request line, without the network: the dispatcher (what
/// is answered on the event loop and what goes to a worker, decided by op), the ops themselves
/// (`+Ops`), reply encoding (`+Replies`, `+Status`) and statistics. `ShortlistServer` puts it
/// behind TCP; tests also drive it directly in memory.
public final class RequestProcessor: @unchecked Sendable {
    public let limits: ServerLimits
    let collections: [String: ServedCollection]
    let collectionOrder: [String]
    let stats = ServerStats()
    let parser: RequestParser
    private let authToken: [UInt8]?
    /// Worker threads serving this processor (reported by `info`).
    let workerCount: Int
    /// Open connections that have not authenticated (nil when auth is off).
    let pendingAuthentication: PendingAuthentication?
    /// Set once shutdown begins: new requests get `shutting_down`.
    let shuttingDown = Atomic<Bool>(false)
    /// Pending work, reported by `stats` (set by the server).
    var pendingWork: () -> Int = { 0 }
    /// Plain searches on flat and IVF collections that one worker takes together run as one
    /// batch search (`SearchBatcher`; default on).
    var microBatching = true
    /// `save` requests running (shutdown waits for them).
    let savesRunning = Atomic<Int>(0)
    /// Asked before every upsert and delete: an error refuses the write (a cluster replica
    /// answers `not_primary`), nil lets it through. Nil (the default): every write goes through.
    public var writeGate: (@Sendable () -> ProtocolError?)?
    /// Asked before `replicate` and `install` with the sender's term: an error refuses them (a
    /// stale primary's), nil lets them through. Nil (the default): this server is no cluster
    /// member and refuses them.
    public var replicationGate: (@Sendable (UInt64) -> ProtocolError?)?
    /// Set on a router: every op but ping, info, stats and auth is answered by it instead of by
    /// this server's collections.
    public var forwarder: (any RequestForwarder)?

    /// Before authentication, lines longer than this are refused unread.
    static let unauthenticatedLineLimit = 64 << 10
    /// The event loop parses constant-work ops only in lines up to this long: a longer line (a
    /// `ping` padded with megabytes) is parsed by a worker, so no line can stall the loop.
    static let inlineParseLimit = 1_024

    /// Per-connection state, touched only on the connection's event loop.
    public final class Session {
        public internal(set) var authenticated: Bool
        init(authenticated: Bool) { self.authenticated = authenticated }
    }

    /// Where a line goes next.
    enum Route {
        /// The reply, computed on the event loop (ping, info, stats, auth, and every error that
        /// needs no parse beyond the line's envelope).
        case reply([UInt8])
        /// Parse and run on a worker. `envelope` is the op and id read so far: the op lets the
        /// connection order writes, the id answers the request if the pool turns it away.
        case work([UInt8], start: UInt64, envelope: RequestParser.Envelope)

        /// The line is a write (`upsert`, `delete`), as far as is known before running it.
        var isWrite: Bool {
            switch self {
            case .reply: return false
            case let .work(_, _, envelope): return envelope.op?.isWrite ?? false
            }
        }
    }

    public init(collections: [ServedCollection], limits: ServerLimits = ServerLimits(), authToken: String? = nil, workerCount: Int = 1) throws {
        var map: [String: ServedCollection] = [:]
        for c in collections {
            guard map.updateValue(c, forKey: c.name) == nil else {
                throw CollectionError.invalidDescription(c.name, reason: "two collections have this name")
            }
        }
        self.collections = map
        collectionOrder = collections.map(\.name)
        self.limits = limits
        parser = RequestParser(limits: limits)
        self.authToken = authToken.map { Array($0.utf8) }
        pendingAuthentication = authToken == nil ? nil : PendingAuthentication()
        self.workerCount = workerCount
    }

    public func makeSession() -> Session { Session(authenticated: authToken == nil) }

    // MARK: Dispatch

    /// Decides by op: constant-work ops (`Request.Op.isInline`) in short lines are parsed and
    /// answered here; everything else is handed to a worker unparsed, so the event loop never
    /// parses a vector.
    func route(_ line: UnsafeBufferPointer<UInt8>, session: Session) -> Route {
        let start = MonotonicClock.nanoseconds()
        if !session.authenticated {
            guard line.count <= Self.unauthenticatedLineLimit else {
                return .reply(failure(id: nil, op: nil, start: start, ProtocolError(.unauthorized, "authenticate first: {\"op\":\"auth\",\"token\":…}")))
            }
            switch parser.parse(line) {
            case let .failure(id, error): return .reply(failure(id: id, op: nil, start: start, error))
            case let .request(r):
                guard case let .auth(token) = r.request else {
                    return .reply(failure(id: r.id, op: r.request.op, start: start, ProtocolError(.unauthorized, "authenticate first: {\"op\":\"auth\",\"token\":…}")))
                }
                return .reply(authenticate(token, id: r.id, session: session, start: start))
            }
        }
        let envelope = RequestParser.envelope(line)
        if shuttingDown.load(ordering: .relaxed) {
            return .reply(failure(id: envelope.id, op: nil, start: start, ProtocolError(.shuttingDown, "the server is shutting down")))
        }
        guard let op = envelope.op, op.isInline, line.count <= Self.inlineParseLimit else {
            return .work(Array(line), start: start, envelope: envelope)
        }
        switch parser.parse(line) {
        case let .failure(id, error): return .reply(failure(id: id, op: nil, start: start, error))
        case let .request(r):
            if case let .auth(token) = r.request { return .reply(authenticate(token, id: r.id, session: session, start: start)) }
            return .reply(execute(r, start: start))
        }
    }

    /// Parses and runs a line a worker took; see `execute(_:start:batcher:later:)`.
    func execute(line: [UInt8], start: UInt64, batcher: SearchBatcher? = nil, later: @escaping ([UInt8]) -> Void) -> Outcome {
        switch line.withUnsafeBufferPointer({ parser.parse($0) }) {
        case let .failure(id, error): return .reply(failure(id: id, op: nil, start: start, error))
        case let .request(r):
            if case .auth = r.request {
                return .reply(failure(id: r.id, op: .auth, start: start, ProtocolError(.invalidRequest, "an auth line is short (at most \(Self.inlineParseLimit) bytes)")))
            }
            return execute(r, start: start, batcher: batcher, later: later)
        }
    }

    /// Handles one line start to finish on the calling thread (in-memory use and tests).
    public func handle(_ line: String, session: Session) -> String {
        var bytes = Array(line.utf8)
        if bytes.last == 0x0A { bytes.removeLast() }
        let route = bytes.withUnsafeBufferPointer { self.route($0, session: session) }
        let reply: [UInt8]
        switch route {
        case let .reply(r): reply = r
        case let .work(line, start, _): reply = waitForReply { execute(line: line, start: start, later: $0) }
        }
        return String(decoding: reply, as: UTF8.self)
    }

    private func authenticate(_ token: String, id: [UInt8]?, session: Session, start: UInt64) -> [UInt8] {
        if let authToken {
            guard Self.constantTimeEqual(Array(token.utf8), authToken) else {
                return failure(id: id, op: .auth, start: start, ProtocolError(.unauthorized, "wrong token"))
            }
        }
        session.authenticated = true
        return success(id: id, op: .auth, start: start) { o in o.raw("{\"authenticated\":true}") }
    }

    /// Compares without an early exit, so the time taken does not reveal how much of a guess was right.
    static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        var difference = UInt8(truncatingIfNeeded: a.count ^ b.count)
        let n = max(a.count, b.count)
        for i in 0..<n {
            let x = i < a.count ? a[i] : 0, y = i < b.count ? b[i] : 0
            difference |= x ^ y
        }
        return difference == 0 && a.count == b.count
    }

    /// The reply of `run`, waiting on this thread when it comes later (writes waiting for the disk).
    func waitForReply(_ run: (@escaping ([UInt8]) -> Void) -> Outcome) -> [UInt8] {
        let done = DispatchSemaphore(value: 0)
        var later: [UInt8] = []
        if case let .reply(now) = run({ later = $0; done.signal() }) { return now }
        done.wait()
        return later
    }

    /// Saves every collection changed since it was loaded or saved; returns the errors.
    public func saveDirtyCollections() -> [String] {
        var problems: [String] = []
        for name in collectionOrder where collections[name]!.isDirty {
            do { try collections[name]!.save() } catch { problems.append("\(error)") }
        }
        return problems
    }
}
