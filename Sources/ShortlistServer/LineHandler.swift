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

    private let processor: RequestProcessor
    private let pool: RequestPool
    private let session: RequestProcessor.Session
    private var buffer: ByteBuffer?
    /// Bytes of `buffer` (from its reader index) already known to hold no newline.
    private var scanned = 0
    private var discarding = false
    private var inFlight = 0
    private var needsFlush = false
    /// Jobs gathered while reading, submitted together.
    private var pendingJobs: [RequestPool.Job] = []
    /// What `submitPending` needs to know of each of `pendingJobs` if the pool refuses it.
    private var pendingRequests: [(id: [UInt8]?, isWrite: Bool, bytes: Int)] = []
    /// Replies finished by workers, waiting for the event loop to write them.
    private let outbox = Mutex<[[UInt8]]>([])
    /// The client half-closed: close once every reply is out.
    private var inputClosed = false
    /// The server is closing the connection (`closeWithError`): input is dropped.
    private var closing = false
    /// Writes dispatched and not yet applied; while any is, later lines wait.
    private var writesUnapplied = 0
    /// Reads dispatched and not yet answered (workers bring it down); a write waits for 0.
    private let readsUnanswered = WaitedCount()
    /// The socket is not being read (`autoRead` off) until the client reads or a write is applied.
    private var readingPaused = false
    /// The connection has closed: workers drop its queued reads.
    private let gone = Atomic<Bool>(false)
    /// Reply bytes handed to the socket and not yet sent (as of the last write or writability
    /// change): while past `outputPauseBytes`, workers answer this connection's queued reads with
    /// `overloaded` instead of running them, so a client that does not read cannot make the
    /// server build replies it will only hold.
    private let unsent = Atomic<Int>(0)
    /// Bytes of the long request lines this connection has queued for workers (kept as copies
    /// until parsed and run); past `maximumPendingRequestBytes` its lines wait.
    private let pendingBytes = WaitedCount()
    /// When the line now arriving started (nil: no partial line buffered).
    private var partialSince: NIODeadline?
    private var lineTimer: Scheduled<Void>?
    private var authTimer: Scheduled<Void>?
    /// This connection is listed in `RequestProcessor.pendingAuthentication` (not yet authenticated).
    private var countedUnauthenticated = false

    private let spinner: LoopSpinner?

    /// This connection's queue in the worker pool.
    private let lane = RequestPool.Lane()

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
    private func noteAuthenticated() {
        guard countedUnauthenticated else { return }
        countedUnauthenticated = false
        authTimer?.cancel()
        processor.pendingAuthentication?.remove(ObjectIdentifier(self))
    }

    /// Sends `error` (no id), then closes.
    private func closeWithError(_ error: ProtocolError, context: ChannelHandlerContext, counted: Bool = false) {
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
    private func mayProcess(_ context: ChannelHandlerContext) -> Bool {
        writesUnapplied == 0 && context.channel.isWritable && requestBytesBelowLimit()
    }

    /// True while the request lines this connection has waiting for workers hold less than
    /// `maximumPendingRequestBytes`; otherwise arranges for the worker that brings them below
    /// it to resume the connection.
    private func requestBytesBelowLimit() -> Bool {
        pendingBytes.isBelow(processor.limits.maximumPendingRequestBytes)
    }

    /// A job of `bytes` request bytes has run (on a worker).
    private func requestBytesDone(_ bytes: Int, loop: EventLoop, context: ChannelHandlerContext) {
        if pendingBytes.subtract(bytes, limit: processor.limits.maximumPendingRequestBytes) {
            loop.execute { self.resume(context: context) }
        }
    }

    private func pauseReading(_ context: ChannelHandlerContext) {
        guard !readingPaused else { return }
        readingPaused = true
        try? context.channel.syncOptions?.setOption(.autoRead, value: false)
    }

    /// Processes the lines that waited and, if nothing blocks any more, reads the socket again.
    private func resume(context: ChannelHandlerContext) {
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
    private func enforceOutputBound(_ channel: Channel) {
        guard let unsent = try? channel.syncOptions?.getOption(.bufferedWritableBytes) else { return }
        self.unsent.store(unsent, ordering: .relaxed)
        guard unsent > processor.limits.maximumOutputBytes else { return }
        processor.stats.recordError(.limitExceeded)
        channel.close(promise: nil)
    }

    /// Watches the line now arriving: past `lineTimeoutSeconds` since its first byte (while the
    /// connection is not paused by the server itself), the connection is closed.
    private func armLineTimer(context: ChannelHandlerContext) {
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

    private func processLines(context: ChannelHandlerContext) {
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

    /// Writes every finished reply in one buffer and flushes once (on the event loop).
    private func drainOutbox(_ channel: Channel) {
        let replies = outbox.withLock { o in
            let taken = o
            o.removeAll(keepingCapacity: true)
            return taken
        }
        inFlight -= replies.count
        guard channel.isActive, !replies.isEmpty else { return }
        var buffer = channel.allocator.buffer(capacity: replies.reduce(0) { $0 + $1.count })
        for r in replies { buffer.writeBytes(r) }
        channel.writeAndFlush(buffer, promise: nil)
        enforceOutputBound(channel)
        spinner?.poke()
        closeIfFinished(channel)
    }

    /// After the client's half-close, closes when nothing is in flight (pending replies flushed first).
    private func closeIfFinished(_ channel: Channel) {
        guard inputClosed, inFlight == 0, (buffer?.readableBytes ?? 0) == 0 || discarding else { return }
        channel.writeAndFlush(channel.allocator.buffer(capacity: 0)).whenComplete { _ in channel.close(promise: nil) }
    }

    /// An error reply decided here rather than by the processor (counted in `stats` by code).
    private func writeError(_ error: ProtocolError, id: [UInt8]?, context: ChannelHandlerContext) {
        processor.stats.recordError(error.code)
        write(RequestProcessor.errorLine(id: id, error), context: context)
    }

    private func write(_ bytes: [UInt8], context: ChannelHandlerContext) {
        context.write(wrapOutboundOut(context.channel.allocator.buffer(bytes: bytes)), promise: nil)
        needsFlush = true
        enforceOutputBound(context.channel)
    }

    /// Queues `job` for the pool (submitted with the others from the same read, under one lock);
    /// `id` is the request's (when already parsed) for an `overloaded` reply. The job gets the
    /// worker's batch and returns its reply, or `.pending` and hands the reply to the sink it is
    /// given later (a write waiting for the disk, or a search gathered into the batch's
    /// `SearchBatcher`). Replies go through `WorkerPool.Batch.hand`: this connection's replies
    /// from one batch reach the outbox together, with at most one wake-up of the event loop.
    ///
    /// A write (`isWrite`) holds the connection's later lines until a worker has applied it.
    /// A read whose connection has gone by the time a worker takes it is dropped unrun.
    private func dispatch(id: [UInt8]?, isWrite: Bool, bytes: Int, context: ChannelHandlerContext,
                          _ job: @escaping (RequestPool.Batch, @escaping ([UInt8]) -> Void) -> RequestProcessor.Outcome) {
        guard inFlight < processor.limits.maximumInFlightPerConnection else {
            let limit = processor.limits.maximumInFlightPerConnection
            writeError(ProtocolError(.overloaded, "this connection already has \(limit) request\(limit == 1 ? "" : "s") in flight, the most allowed; retry when a reply arrives"), id: id, context: context)
            return
        }
        inFlight += 1
        if isWrite { writesUnapplied += 1 } else { readsUnanswered.add(1) }
        pendingBytes.add(bytes)
        let loop = context.eventLoop
        let channel = context.channel
        pendingJobs.append { batch in
            defer { self.requestBytesDone(bytes, loop: loop, context: context) }
            if !isWrite && self.gone.load(ordering: .relaxed) {
                self.processor.stats.recordDropped()
                return
            }
            let deliver: ([UInt8]) -> Void = { reply in
                batch.hand(reply, to: ObjectIdentifier(self)) { self.post($0, loop: loop, channel: channel) }
                if !isWrite { self.readAnswered(loop: loop, context: context) }
            }
            if !isWrite && self.unsent.load(ordering: .relaxed) > self.processor.limits.outputPauseBytes {
                let limit = self.processor.limits.outputPauseBytes
                return deliver(self.processor.failure(id: id, op: nil, start: MonotonicClock.nanoseconds(),
                                                      ProtocolError(.overloaded, "this connection has more than \(limit) bytes of replies it has not read; read them, then retry")))
            }
            if case let .reply(reply) = job(batch, deliver) { deliver(reply) }
            if isWrite { loop.execute { self.writeApplied(context: context) } }
        }
        pendingRequests.append((id, isWrite, bytes))
    }

    /// A read of this connection has its reply (on a worker): the last one wakes a waiting write.
    private func readAnswered(loop: EventLoop, context: ChannelHandlerContext) {
        if readsUnanswered.subtract(1, limit: 1) { loop.execute { self.resume(context: context) } }
    }

    /// A write of this connection has been applied (or refused): the lines after it may run.
    private func writeApplied(context: ChannelHandlerContext) {
        writesUnapplied -= 1
        resume(context: context)
    }

    /// Queues finished replies for the event loop (any thread). Only replies into an empty outbox
    /// wake the loop; later ones ride along with that wake-up.
    private func post(_ replies: [[UInt8]], loop: EventLoop, channel: Channel) {
        let wasEmpty = outbox.withLock { o in
            let empty = o.isEmpty
            o.append(contentsOf: replies)
            return empty
        }
        if wasEmpty { loop.execute { self.drainOutbox(channel) } }
    }

    /// Submits the jobs gathered from one read; those that do not fit get `overloaded`.
    private func submitPending(context: ChannelHandlerContext) {
        guard !pendingJobs.isEmpty else { return }
        let accepted = pool.submit(pendingJobs, lane: lane)
        // Requests refused here will never run: answer them, and release what they held (a
        // line waiting for them is resumed).
        var wake = false
        for r in pendingRequests[accepted...] {
            inFlight -= 1
            writeError(ProtocolError(.overloaded, "the server's queue is full; retry later"), id: r.id, context: context)
            if r.isWrite { writesUnapplied -= 1 } else if readsUnanswered.subtract(1, limit: 1) { wake = true }
            if pendingBytes.subtract(r.bytes, limit: processor.limits.maximumPendingRequestBytes) { wake = true }
        }
        pendingJobs.removeAll(keepingCapacity: true)
        pendingRequests.removeAll(keepingCapacity: true)
        if wake { context.eventLoop.execute { self.resume(context: context) } }
    }
}
