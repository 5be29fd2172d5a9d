import Foundation
#if canImport(Glibc)
import Glibc
#endif
import ShortlistClient
import ShortlistCore
import ShortlistProtocol

/// A closed-loop load generator: `connections` connections, each keeping `pipeline` requests in
/// flight, cycling through prepared requests for `duration` seconds. The connections are served
/// by `threads` client threads (default 1) that `poll` their sockets, so the generator itself
/// takes little CPU from a server on the same machine.
/// Round-trip latency is measured per request from the send to the reply, and the server's own
/// `took_us` is collected beside it, so their difference is the protocol and network overhead.
public struct LoadTest {
    public struct Configuration {
        public var host = "127.0.0.1"
        public var port = 7700
        public var connections = 1
        public var pipeline = 1
        /// Client threads sharing the connections (at most one per connection).
        public var threads = 1
        /// Spin on `poll` instead of sleeping in it: each client thread keeps a core busy, but a
        /// reply is seen without a scheduler wake-up (~40 µs on an idle virtual machine), so the
        /// figures show the server's turnaround rather than the client's.
        public var busyPoll = false
        public var duration = 10.0
        /// Seconds of load before measuring starts (default 1).
        public var warmup = 1.0
        /// The requests, sent in turn (each connection starting at its own place).
        public var requests: [Request] = []
        /// How their vectors go on the wire (default base64).
        public var vectorEncoding = RequestEncoder.VectorEncoding.base64
        /// The token each connection authenticates with first, when the server wants one.
        public var token: String?

        public init() {}
    }

    public struct Report {
        public var requests: Int
        public var errors: Int
        public var firstError: String?
        public var seconds: Double
        /// Round-trip latency in nanoseconds.
        public var latency: LatencyHistogram
        /// The server's `took_us`, in nanoseconds, for replies that carry it.
        public var serverTime: LatencyHistogram
        public var throughput: Double { Double(requests) / seconds }

        /// Two runs as one: counts, seconds and histograms added.
        public func merged(with other: Report) -> Report {
            var latency = self.latency, serverTime = self.serverTime
            latency.merge(other.latency)
            serverTime.merge(other.serverTime)
            return Report(requests: requests + other.requests, errors: errors + other.errors, firstError: firstError ?? other.firstError,
                          seconds: seconds + other.seconds, latency: latency, serverTime: serverTime)
        }
    }

    private final class Shared: @unchecked Sendable {
        let lock = NSLock()
        var latency = LatencyHistogram()
        var serverTime = LatencyHistogram()
        var requests = 0
        var errors = 0
        var firstError: String?
        var failure: Error?
    }

    public static func run(_ c: Configuration) throws -> Report {
        precondition(!c.requests.isEmpty && c.connections > 0 && c.pipeline > 0)
        let shared = Shared()
        let startAt = MonotonicClock.nanoseconds()
        let measureFrom = startAt + UInt64(c.warmup * 1e9)
        let stopAt = measureFrom + UInt64(c.duration * 1e9)
        let group = DispatchGroup()
        let threadCount = max(1, min(c.threads, c.connections))
        for t in 0..<threadCount {
            let mine = Array(stride(from: t, to: c.connections, by: threadCount))
            group.enter()
            let thread = Thread {
                defer { group.leave() }
                do {
                    try runConnections(c, indices: mine, measureFrom: measureFrom, stopAt: stopAt, shared: shared)
                } catch {
                    shared.lock.lock()
                    shared.failure = shared.failure ?? error
                    shared.lock.unlock()
                }
            }
            thread.stackSize = 4 << 20
            thread.start()
        }
        group.wait()
        if let failure = shared.failure { throw failure }
        return Report(requests: shared.requests, errors: shared.errors, firstError: shared.firstError, seconds: c.duration,
                      latency: shared.latency, serverTime: shared.serverTime)
    }

    /// One connection's state in a client thread.
    private final class Connection {
        let client: LineClient
        var sentAt: [UInt64]
        var nextId = 0
        var cursor: Int
        var inFlight = 0
        var outgoing: [UInt8] = []

        init(client: LineClient, ring: Int, cursor: Int) {
            self.client = client
            sentAt = [UInt64](repeating: 0, count: ring)
            self.cursor = cursor
        }
    }

    private static func runConnections(_ c: Configuration, indices: [Int], measureFrom: UInt64, stopAt: UInt64, shared: Shared) throws {
        let ring = max(16, c.pipeline * 2)
        // Each request encoded once, after its id: `"op":…}` and a newline.
        let encoder = RequestEncoder(vectorEncoding: c.vectorEncoding)
        let bodies = c.requests.map { encoder.encodeAfterId($0) }
        var connections: [Connection] = []
        for index in indices {
            let client = try LineClient(host: c.host, port: c.port)
            if let token = c.token {
                guard let line = try client.request(encoder.encode(RequestLine(.auth(token: token)))) else { throw ClientError.closed }
                _ = try line.withUnsafeBufferPointer { try Reply(line: $0) }.result()
            }
            connections.append(Connection(client: client, ring: ring, cursor: index * 7919 % bodies.count))
        }
        var latency = LatencyHistogram(), serverTime = LatencyHistogram()
        var requests = 0, errors = 0
        var firstError: String?
        var failure: Error?
        func enqueue(_ k: Connection, _ n: Int) throws {
            k.outgoing.removeAll(keepingCapacity: true)
            for _ in 0..<n {
                k.outgoing.append(contentsOf: "{\"id\":\(k.nextId),".utf8)
                k.outgoing.append(contentsOf: bodies[k.cursor])
                k.sentAt[k.nextId % ring] = MonotonicClock.nanoseconds()
                k.nextId += 1
                k.cursor = (k.cursor + 1) % bodies.count
            }
            try k.client.send(k.outgoing)
            k.inFlight += n
        }
        for k in connections { try enqueue(k, c.pipeline) }
        var polls = connections.map { pollfd(fd: $0.client.descriptor, events: Int16(POLLIN), revents: 0) }
        while connections.contains(where: { $0.inFlight > 0 }) {
            let ready = poll(&polls, nfds_t(polls.count), c.busyPoll ? 0 : 10_000)
            if ready < 0 && errno == EINTR { continue }
            if ready == 0 && c.busyPoll {
                if MonotonicClock.nanoseconds() > stopAt + 10_000_000_000 { throw ClientError.timeout }
                continue
            }
            guard ready > 0 else { throw ClientError.timeout }
            for (i, k) in connections.enumerated() where polls[i].revents != 0 {
                var answered = 0
                let open = try k.client.receiveLines { reply in
                    let now = MonotonicClock.nanoseconds()
                    answered += 1
                    let parsed = parseReply(reply)
                    guard let id = parsed.id else {
                        failure = failure ?? ClientError.io("reply without a numeric id: \(String(decoding: reply.prefix(200), as: UTF8.self))")
                        return
                    }
                    if now >= measureFrom && now < stopAt {
                        requests += 1
                        latency.record(now - k.sentAt[id % ring])
                        if let took = parsed.tookMicroseconds { serverTime.record(took * 1000) }
                        if !parsed.ok {
                            errors += 1
                            if firstError == nil { firstError = String(decoding: reply.prefix(300), as: UTF8.self) }
                        }
                    }
                }
                if let failure { throw failure }
                guard open else { throw ClientError.closed }
                k.inFlight -= answered
                // Replace every answered request in one send.
                if MonotonicClock.nanoseconds() < stopAt && answered > 0 { try enqueue(k, answered) }
                if k.inFlight == 0 { polls[i].events = 0 }
            }
        }
        shared.lock.lock()
        shared.latency.merge(latency)
        shared.serverTime.merge(serverTime)
        shared.requests += requests
        shared.errors += errors
        if shared.firstError == nil { shared.firstError = firstError }
        shared.lock.unlock()
    }

    /// Reads `{"id":N,"ok":B,…"took_us":T…}` as the server writes it (id first, took_us last in result).
    static func parseReply(_ line: UnsafeBufferPointer<UInt8>) -> (id: Int?, ok: Bool, tookMicroseconds: UInt64?) {
        func matches(_ text: StaticString, at i: Int) -> Bool {
            let n = text.utf8CodeUnitCount
            guard i >= 0, i + n <= line.count else { return false }
            for j in 0..<n where line[i + j] != text.utf8Start[j] { return false }
            return true
        }
        guard matches("{\"id\":", at: 0) else { return (nil, false, nil) }
        var i = 6, id = 0, digits = 0
        while i < line.count, line[i] >= 48, line[i] <= 57 { id = id * 10 + Int(line[i] - 48); i += 1; digits += 1 }
        let ok = matches(",\"ok\":true", at: i)
        var took: UInt64?
        var j = line.count - 10
        while j >= max(0, line.count - 64) {
            if line[j] == 0x22 && matches("\"took_us\":", at: j) {
                var k = j + 10, v: UInt64 = 0
                while k < line.count, line[k] >= 48, line[k] <= 57 { v = v * 10 + UInt64(line[k] - 48); k += 1 }
                took = v
                break
            }
            j -= 1
        }
        return (digits > 0 ? id : nil, ok, took)
    }
}
