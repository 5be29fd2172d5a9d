import NIOCore
import ShortlistCore
import ShortlistProtocol
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// One connection: frames request lines (LF, optional CR before it), answers the cheap ops on the
/// event loop, hands the rest to the worker pool and writes their replies when done. Replies go
/// out in completion order, each carrying its request's `id`.
///
/// A line longer than the limit is discarded up to its newline while it streams in (it is never
/// buffered whole) and answered with `line_too_long`; the connection then reads the next line.
///
/// Order on one connection: a write (`upsert`, `delete`) is dispatched only once every earlier
/// request of the connection has been answered, and later lines wait until it is applied, so
/// every request sees exactly the writes sent before it. Reads between writes run in parallel.
///
/// Bounds: the connection's lines are not processed, and its socket is not read, while more than
/// `outputPauseBytes` of its replies are unsent (the client does not read), while a write waits,
/// or while more than `maximumPendingRequestBytes` of its long lines wait for workers. Past
/// `maximumOutputBytes` unsent it is closed, and while past `outputPauseBytes` its queued reads
/// are answered `overloaded` without running. A line must arrive within `lineTimeoutSeconds` of
/// its first byte, and with auth on, a connection must authenticate within
/// `authTimeoutSeconds`. Queued reads of a connection that has gone are dropped. Its jobs go to
/// the pool in a lane of their own (round-robin with other connections).
final class LineHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    let processor: RequestProcessor
    let pool: RequestPool
    let session: RequestProcessor.Session
    var buffer: ByteBuffer?
    /// Bytes of `buffer` (from its reader index) already known to hold no newline.
    var scanned = 0
    var discarding = false
    var inFlight = 0
    var needsFlush = false
    /// Jobs gathered while reading, submitted together.
    var pendingJobs: [RequestPool.Job] = []
    /// What `submitPending` needs to know of each of `pendingJobs` if the pool refuses it.
    var pendingRequests: [(id: [UInt8]?, isWrite: Bool, bytes: Int)] = []
    /// Replies finished by workers, waiting for the event loop to write them.
    let outbox = Mutex<[[UInt8]]>([])
    /// The client half-closed: close once every reply is out.
    var inputClosed = false
    /// The server is closing the connection (`closeWithError`): input is dropped.
    var closing = false
    /// Writes dispatched and not yet applied; while any is, later lines wait.
    var writesUnapplied = 0
    /// Reads dispatched and not yet answered (workers bring it down); a write waits for 0.
    let readsUnanswered = WaitedCount()
    /// The socket is not being read (`autoRead` off) until the client reads or a write is applied.
    var readingPaused = false
    /// The connection has closed: workers drop its queued reads.
    let gone = Atomic<Bool>(false)
    /// Reply bytes handed to the socket and not yet sent (as of the last write or writability
    /// change): while past `outputPauseBytes`, workers answer this connection's queued reads with
    /// `overloaded` instead of running them, so a client that does not read cannot make the
    /// server build replies it will only hold.
    let unsent = Atomic<Int>(0)
    /// Bytes of the long request lines this connection has queued for workers (kept as copies
    /// until parsed and run); past `maximumPendingRequestBytes` its lines wait.
    let pendingBytes = WaitedCount()
    /// When the line now arriving started (nil: no partial line buffered).
    var partialSince: NIODeadline?
    var lineTimer: Scheduled<Void>?
    var authTimer: Scheduled<Void>?
    /// This connection is listed in `RequestProcessor.pendingAuthentication` (not yet authenticated).
    var countedUnauthenticated = false

    let spinner: LoopSpinner?

    /// This connection's queue in the worker pool.
    let lane = RequestPool.Lane()

    init(processor: RequestProcessor, pool: RequestPool, spinner: LoopSpinner? = nil) {
        self.processor = processor
        self.pool = pool
        self.spinner = spinner
        session = processor.makeSession()
    }

    func channelActive(context: ChannelHandlerContext) {
        processor.stats.connectionOpened()
        if !session.authenticated {
            countedUnauthenticated = true
            let limits = processor.limits
            if let pending = processor.pendingAuthentication {
                // Unauthenticated connections make room for new ones, oldest first: a crowd of
                // silent sockets cannot keep a client with the token out.
                if pending.count >= limits.maximumUnauthenticatedConnections { _ = pending.evictOldest() }
                pending.add(ObjectIdentifier(self)) { [self] in
                    processor.stats.connectionRefused()
                    closeWithError(ProtocolError(.tooManyConnections, "closed to make room: too many connections were waiting to authenticate (the most is \(limits.maximumUnauthenticatedConnections))"), context: context, counted: true)
                }
            }
            if limits.authTimeoutSeconds > 0 {
                authTimer = context.eventLoop.scheduleTask(in: .seconds(Int64(limits.authTimeoutSeconds))) { [self] in
                    guard !session.authenticated else { return }
                    closeWithError(ProtocolError(.unauthorized, "not authenticated within \(limits.authTimeoutSeconds) s; closing"), context: context)
                }
            }
        }
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        gone.store(true, ordering: .relaxed)
        authTimer?.cancel()
        lineTimer?.cancel()
        noteAuthenticated()
        if !closing { processor.stats.connectionClosed() }
        context.fireChannelInactive()
    }

    /// Stops counting this connection as unauthenticated (once authenticated or closed).
    func noteAuthenticated() {
        guard countedUnauthenticated else { return }
        countedUnauthenticated = false
        authTimer?.cancel()
        processor.pendingAuthentication?.remove(ObjectIdentifier(self))
    }

    /// Sends `error` (no id), then closes.
    func closeWithError(_ error: ProtocolError, context: ChannelHandlerContext, counted: Bool = false) {
        guard !closing else { return }
        closing = true
        // It no longer counts against the connection limit while its last reply drains.
        processor.stats.connectionClosed()
        noteAuthenticated()
        if !counted { processor.stats.recordError(error.code) }
        if needsFlush {
            needsFlush = false
            context.flush()
        }
        GracefulClose.close(context: context, after: context.channel.allocator.buffer(bytes: RequestProcessor.errorLine(id: nil, error)))
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if let bytes = try? context.channel.syncOptions?.getOption(.bufferedWritableBytes) { unsent.store(bytes, ordering: .relaxed) }
        if context.channel.isWritable { resume(context: context) }
        context.fireChannelWritabilityChanged()
    }

    /// Lines may be processed: nothing waits to be applied and the client reads its replies.
    func mayProcess(_ context: ChannelHandlerContext) -> Bool {
        writesUnapplied == 0 && context.channel.isWritable && requestBytesBelowLimit()
    }

    /// True while the request lines this connection has waiting for workers hold less than
    /// `maximumPendingRequestBytes`; otherwise arranges for the worker that brings them below
    /// it to resume the connection.
    func requestBytesBelowLimit() -> Bool {
        pendingBytes.isBelow(processor.limits.maximumPendingRequestBytes)
    }

    /// A job of `bytes` request bytes has run (on a worker).
    func requestBytesDone(_ bytes: Int, loop: EventLoop, context: ChannelHandlerContext) {
        if pendingBytes.subtract(bytes, limit: processor.limits.maximumPendingRequestBytes) {
            loop.execute { self.resume(context: context) }
        }
    }

    func pauseReading(_ context: ChannelHandlerContext) {
        guard !readingPaused else { return }
        readingPaused = true
        try? context.channel.syncOptions?.setOption(.autoRead, value: false)
    }

    /// Processes the lines that waited and, if nothing blocks any more, reads the socket again.
    func resume(context: ChannelHandlerContext) {
        guard mayProcess(context), context.channel.isActive else { return }
        processLines(context: context)
        if needsFlush {
            needsFlush = false
            context.flush()
        }
        if mayProcess(context) && readingPaused {
            readingPaused = false
            try? context.channel.syncOptions?.setOption(.autoRead, value: true)
        }
        closeIfFinished(context.channel)
    }

    /// Closes the connection when its unsent replies pass `maximumOutputBytes`.
    func enforceOutputBound(_ channel: Channel) {
        guard let unsent = try? channel.syncOptions?.getOption(.bufferedWritableBytes) else { return }
        self.unsent.store(unsent, ordering: .relaxed)
        guard unsent > processor.limits.maximumOutputBytes else { return }
        processor.stats.recordError(.limitExceeded)
        channel.close(promise: nil)
    }

    /// Watches the line now arriving: past `lineTimeoutSeconds` since its first byte (while the
    /// connection is not paused by the server itself), the connection is closed.
    func armLineTimer(context: ChannelHandlerContext) {
        let seconds = processor.limits.lineTimeoutSeconds
        guard seconds > 0, lineTimer == nil, let since = partialSince else { return }
        lineTimer = context.eventLoop.scheduleTask(deadline: since + .seconds(Int64(seconds))) { [self] in
            lineTimer = nil
            guard let start = partialSince, context.channel.isActive else { return }
            if !mayProcess(context) || start + .seconds(Int64(seconds)) > .now() {
                // The server paused reading, or a newer line started: look again later.
                if !mayProcess(context) { partialSince = .now() }
                armLineTimer(context: context)
                return
            }
            closeWithError(ProtocolError(.idleTimeout, "a request line took longer than \(seconds) s to arrive; closing"), context: context)
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !closing else { return }
        var incoming = unwrapInboundIn(data)
        if buffer == nil || buffer!.readableBytes == 0 {
            buffer = incoming
            scanned = 0
        } else {
            buffer!.writeBuffer(&incoming)
        }
        processLines(context: context)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        if needsFlush {
            needsFlush = false
            context.flush()
        }
        spinner?.poke()
        context.fireChannelReadComplete()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let e = event as? ChannelEvent, e == .inputClosed {
            if closing { return context.close(promise: nil) }
            inputClosed = true
            // A last line without its newline is still a request.
            if var b = buffer, b.readableBytes > 0, !discarding {
                b.writeInteger(UInt8(0x0A))
                buffer = b
                processLines(context: context)
                if needsFlush {
                    needsFlush = false
                    context.flush()
                }
            }
            closeIfFinished(context.channel)
            return
        }
        if let e = event as? IdleStateHandler.IdleStateEvent, e == .read {
            guard inFlight == 0 else { return }
            closeWithError(ProtocolError(.idleTimeout, "no request for \(processor.limits.idleTimeoutSeconds) s; closing"), context: context)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        context.close(promise: nil)
    }

    func processLines(context: ChannelHandlerContext) {
        let maximum = processor.limits.maximumLineBytes
        var consumed = false
        defer {
            let pending = (buffer?.readableBytes ?? 0) > 0 || discarding
            if !pending { partialSince = nil } else if consumed || partialSince == nil { partialSince = .now() }
            armLineTimer(context: context)
        }
        while var b = buffer, b.readableBytes > 0 {
            guard mayProcess(context) else {
                pauseReading(context)
                break
            }
            let newline: Int? = b.withUnsafeReadableBytes { raw in
                guard raw.count > scanned, let p = memchr(raw.baseAddress! + scanned, 0x0A, raw.count - scanned) else { return nil }
                return raw.baseAddress!.distance(to: UnsafeRawPointer(p))
            }
            guard let newline else {
                // No complete line: keep it, unless it is already too long (then drop what came).
                if discarding || b.readableBytes > maximum {
                    discarding = true
                    b.clear()
                    scanned = 0
                } else {
                    scanned = b.readableBytes
                }
                buffer = b
                break
            }
            scanned = 0
            consumed = true
            if discarding || newline > maximum {
                discarding = false
                b.moveReaderIndex(forwardBy: newline + 1)
                buffer = b
                writeError(ProtocolError(.lineTooLong, "the line is longer than \(maximum) bytes and was discarded"), id: nil, context: context)
                continue
            }
            let route: RequestProcessor.Route? = b.withUnsafeReadableBytes { raw in
                var n = newline
                if n > 0 && raw[n - 1] == 0x0D { n -= 1 }
                let line = UnsafeBufferPointer(start: raw.baseAddress!.assumingMemoryBound(to: UInt8.self), count: n)
                // Blank lines are ignored.
                if line.allSatisfy({ $0 == 0x20 || $0 == 0x09 }) { return nil }
                return processor.route(line, session: session)
            }
            if countedUnauthenticated && session.authenticated { noteAuthenticated() }
            // A write starts only after every earlier request of the connection has run: until
            // then the line stays in the buffer (it is routed again when the last read is answered).
            if let route, route.isWrite, !readsUnanswered.isBelow(1) {
                pauseReading(context)
                break
            }
            b.moveReaderIndex(forwardBy: newline + 1)
            buffer = b
            switch route {
            case nil: break
            case let .reply(bytes)?: write(bytes, context: context)
            case let .work(bytes, start, envelope)?:
                dispatch(id: envelope.id, isWrite: envelope.op?.isWrite ?? false, bytes: bytes.count, context: context) { [processor] batch, later in
                    processor.execute(line: bytes, start: start, batcher: batch.context, later: later)
                }
            }
        }
        submitPending(context: context)
        if let b = buffer, b.readerIndex > 64 << 10 {
            buffer!.discardReadBytes()
        }
    }
}
