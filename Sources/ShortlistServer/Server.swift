import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import ShortlistCore
import ShortlistProtocol

/// The TCP server: line-delimited JSON on `host:port` (SwiftNIO, one event loop), a worker pool
/// for the searches, and optionally Prometheus metrics over HTTP on `metricsPort`.
public final class Server: @unchecked Sendable {
    public struct Configuration: Sendable {
        /// Address to listen on (default 127.0.0.1).
        public var host = "127.0.0.1"
        /// Port (default 7700; 0 picks a free one, see `port`).
        public var port = 7700
        /// Port for `GET /metrics` in Prometheus text format (default: none).
        public var metricsPort: Int?
        /// Worker threads for searches and writes (default: one per core).
        public var workers = ProcessInfo.processInfo.activeProcessorCount
        /// Microseconds an idle worker keeps looking for work before it sleeps (default 200; 0
        /// sleeps at once). Spinning keeps the core and its caches warm between requests at the
        /// cost of up to this much CPU after each burst.
        public var workerSpinMicroseconds = 200
        /// Microseconds the event loop keeps polling its sockets after traffic, while no search
        /// runs, before it sleeps (default 0: sleep at once). Spares a client that waits for each
        /// reply the scheduler wake-up (~45 µs each way on a virtual machine) at the cost of up
        /// to a core for this long after each request.
        public var loopSpinMicroseconds = 0
        /// Plain searches on flat and IVF collections that a worker takes together run as one
        /// batch search (default true; see `SearchBatcher`).
        public var microBatching = true
        /// Allows a non-loopback `host` without an auth token.
        public var insecure = false
        public var limits = ServerLimits()
        /// Shared secret clients send with `{"op":"auth","token":…}` before anything else.
        public var authToken: String?

        public init() {}
    }

    public let configuration: Configuration
    public let processor: RequestProcessor
    private let pool: RequestPool
    private let group: MultiThreadedEventLoopGroup
    private var channel: Channel?
    private var metricsChannel: Channel?
    private let done = DispatchSemaphore(value: 0)
    private let shutdownOnce = NSLock()
    private var shutDown = false

    /// Refuses to start on a non-loopback address without a token unless `insecure`.
    public init(collections: [ServedCollection], configuration: Configuration) throws {
        if !configuration.insecure && configuration.authToken == nil && !Self.isLoopback(configuration.host) {
            throw ServerError.insecureBind(host: configuration.host)
        }
        self.configuration = configuration
        processor = try RequestProcessor(collections: collections, limits: configuration.limits,
                                         authToken: configuration.authToken, workerCount: max(1, configuration.workers))
        pool = RequestPool(threads: configuration.workers, capacity: configuration.limits.maximumQueuedRequests,
                          spinNanoseconds: UInt64(max(0, configuration.workerSpinMicroseconds)) * 1000)
        group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        processor.pendingWork = { [pool] in pool.pending }
        processor.microBatching = configuration.microBatching
    }

    static func isLoopback(_ host: String) -> Bool {
        host == "localhost" || host == "::1" || host.hasPrefix("127.")
    }

    /// The port actually bound (useful with port 0).
    public var port: Int { channel?.localAddress?.port ?? configuration.port }
    /// The address the metrics port is bound to.
    public var metricsAddress: String? { metricsChannel?.localAddress?.ipAddress }
    /// The metrics port actually bound.
    public var metricsPort: Int? { metricsChannel?.localAddress?.port }

    /// Binds and starts answering.
    public func start() throws {
        let processor = self.processor, pool = self.pool, limits = configuration.limits
        // The server runs one event loop (`group` has one thread), so one spinner serves every connection.
        let loop = group.next()
        let spinner = LoopSpinner(loop: loop, windowNanoseconds: UInt64(max(0, configuration.loopSpinMicroseconds)) * 1000,
                                  poolIdle: { pool.isIdle })
        let pending = processor.pendingAuthentication
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(.maxMessagesPerRead, value: 16)
            .childChannelOption(.allowRemoteHalfClosure, value: true)
            // Past `outputPauseBytes` unsent, the channel turns unwritable and the connection stops
            // reading its requests (LineHandler); it reads again below half of it.
            .childChannelOption(.writeBufferWaterMark, value: .init(low: max(1, limits.outputPauseBytes / 2), high: max(2, limits.outputPauseBytes)))
            // Search lines are ~4 KB for 384-d vectors: read in large chunks from the start.
            .childChannelOption(.recvAllocator, value: AdaptiveRecvByteBufferAllocator(minimum: 4096, initial: 65536, maximum: 1 << 20))
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    // At the limit, a connection still waiting to authenticate gives way first.
                    if processor.stats.connectionsOpen.load(ordering: .relaxed) >= limits.maximumConnections, pending?.evictOldest() != true {
                        processor.stats.connectionRefused()
                        try channel.pipeline.syncOperations.addHandler(RefuseHandler(limit: limits.maximumConnections))
                        return
                    }
                    if limits.idleTimeoutSeconds > 0 {
                        try channel.pipeline.syncOperations.addHandler(IdleStateHandler(readTimeout: .seconds(Int64(limits.idleTimeoutSeconds))))
                    }
                    try channel.pipeline.syncOperations.addHandler(LineHandler(processor: processor, pool: pool, spinner: spinner))
                }
            }
        do {
            channel = try bootstrap.bind(host: configuration.host, port: configuration.port).wait()
        } catch {
            throw ServerError.bindFailed(host: configuration.host, port: configuration.port, reason: "\(error)")
        }
        if let metricsPort = configuration.metricsPort {
            // Metrics name collections and counts: without a token they are served on loopback
            // only, whatever --host is; with one, they need it as a bearer token.
            let token = configuration.authToken
            let metricsHost = token == nil ? "127.0.0.1" : configuration.host
            let metrics = ServerBootstrap(group: group)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .childChannelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                        try channel.pipeline.syncOperations.addHandler(MetricsHandler(
                            token: token, isReady: { !processor.shuttingDown.load(ordering: .relaxed) }) { PrometheusFormat.render(processor) })
                    }
                }
            do {
                metricsChannel = try metrics.bind(host: metricsHost, port: metricsPort).wait()
            } catch {
                throw ServerError.bindFailed(host: metricsHost, port: metricsPort, reason: "\(error)")
            }
        }
    }

    /// Graceful stop: stops accepting, answers `shutting_down` to new requests, lets in-flight
    /// requests finish (up to `timeout` seconds) and their replies go out, saves every collection
    /// with unsaved changes, then closes. Returns the save problems (empty when all went well).
    @discardableResult
    public func shutdown(timeout: Double = 30) -> [String] {
        shutdownOnce.lock()
        defer { shutdownOnce.unlock() }
        guard !shutDown else { return [] }
        shutDown = true
        processor.shuttingDown.store(true, ordering: .relaxed)
        try? channel?.close().wait()
        try? metricsChannel?.close().wait()
        _ = pool.waitUntilIdle(timeout: timeout)
        // `save` requests run beside the pool; their replies need the event loop too.
        let deadline = Date().addingTimeInterval(timeout)
        while processor.savesRunning.load(ordering: .relaxed) > 0 && Date() < deadline { usleep(1_000) }
        // Replies are written by tasks queued on the event loop; let them run.
        for _ in 0..<2 { try? group.next().submit {}.wait() }
        let problems = processor.saveDirtyCollections()
        pool.stop()
        try? group.syncShutdownGracefully()
        done.signal()
        return problems
    }

    /// Blocks until `shutdown` has finished.
    public func waitUntilStopped() {
        done.wait()
        done.signal()
    }

    /// Runs until SIGINT or SIGTERM, then shuts down gracefully; returns the save problems.
    public func runUntilSignalled(log: @escaping (String) -> Void) -> [String] {
        signal(SIGINT, SIG_IGN)
        signal(SIGTERM, SIG_IGN)
        signal(SIGPIPE, SIG_IGN)
        let queue = DispatchQueue(label: "shortlist.signals")
        var problems: [String] = []
        let sources = [SIGINT, SIGTERM].map { sig -> DispatchSourceSignal in
            let source = DispatchSource.makeSignalSource(signal: sig, queue: queue)
            source.setEventHandler { [self] in
                log("signal \(sig): stopping (finishing in-flight requests, saving changed collections)")
                problems = shutdown()
            }
            source.resume()
            return source
        }
        waitUntilStopped()
        sources.forEach { $0.cancel() }
        return problems
    }
}

public enum ServerError: Error, Equatable, CustomStringConvertible {
    case insecureBind(host: String)
    case bindFailed(host: String, port: Int, reason: String)

    public var description: String {
        switch self {
        case let .insecureBind(host):
            return "refusing to listen on \(host) without --auth-token-file (anyone who can reach it could change the collections); pass --insecure to do it anyway"
        case let .bindFailed(host, port, reason): return "cannot listen on \(host):\(port): \(reason)"
        }
    }
}
