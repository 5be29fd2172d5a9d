import NIOCore
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
final class LineHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let processor: RequestProcessor
    private let pool: WorkerPool
    private let session: RequestProcessor.Session
    private var buffer: ByteBuffer?
    /// Bytes of `buffer` (from its reader index) already known to hold no newline.
    private var scanned = 0
    private var discarding = false
    private var inFlight = 0
    private var needsFlush = false
    /// Jobs gathered while reading, submitted together.
    private var pendingJobs: [WorkerPool.Job] = []
    private var pendingIds: [[UInt8]?] = []
    /// Replies finished by workers, waiting for the event loop to write them.
    private let outbox = Mutex<[[UInt8]]>([])
    /// The client half-closed: close once every reply is out.
    private var inputClosed = false

    private let spinner: LoopSpinner?

    init(processor: RequestProcessor, pool: WorkerPool, spinner: LoopSpinner? = nil) {
        self.processor = processor
        self.pool = pool
        self.spinner = spinner
        session = processor.makeSession()
    }

    func channelActive(context: ChannelHandlerContext) {
        processor.stats.connectionOpened()
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        processor.stats.connectionClosed()
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
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
            inputClosed = true
            closeIfFinished(context.channel)
            return
        }
        if let e = event as? IdleStateHandler.IdleStateEvent, e == .read {
            guard inFlight == 0 else { return }
            let reply = RequestProcessor.errorLine(id: nil, ProtocolError(.idleTimeout, "no request for \(processor.limits.idleTimeoutSeconds) s; closing"))
            processor.stats.recordError(.idleTimeout)
            context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(bytes: reply))).whenComplete { _ in
                context.close(promise: nil)
            }
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        context.close(promise: nil)
    }

    private func processLines(context: ChannelHandlerContext) {
        let maximum = processor.limits.maximumLineBytes
        while var b = buffer, b.readableBytes > 0 {
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
            b.moveReaderIndex(forwardBy: newline + 1)
            buffer = b
            switch route {
            case nil: break
            case let .reply(bytes)?: write(bytes, context: context)
            case let .parsed(request, start)?:
                dispatch(id: request.id, context: context) { [processor] batch, later in
                    processor.execute(request, start: start, batcher: batch.searches, later: later)
                }
            case let .raw(bytes, start)?:
                dispatch(id: nil, context: context) { [processor] batch, later in
                    processor.execute(raw: bytes, start: start, batcher: batch.searches, later: later)
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
        spinner?.poke()
        closeIfFinished(channel)
    }

    /// After the client's half-close, closes when nothing is in flight (pending replies flushed first).
    private func closeIfFinished(_ channel: Channel) {
        guard inputClosed, inFlight == 0 else { return }
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
    }

    /// Queues `job` for the pool (submitted with the others from the same read, under one lock);
    /// `id` is the request's (when already parsed) for an `overloaded` reply. The job gets the
    /// worker's batch and returns its reply, or `.pending` and hands the reply to the sink it is
    /// given later (a write waiting for the disk, or a search gathered into the batch's
    /// `SearchBatcher`). Replies go through `WorkerPool.Batch.hand`: this connection's replies
    /// from one batch reach the outbox together, with at most one wake-up of the event loop.
    private func dispatch(id: [UInt8]?, context: ChannelHandlerContext,
                          _ job: @escaping (WorkerPool.Batch, @escaping ([UInt8]) -> Void) -> RequestProcessor.Outcome) {
        guard inFlight < processor.limits.maximumInFlightPerConnection else {
            let limit = processor.limits.maximumInFlightPerConnection
            writeError(ProtocolError(.overloaded, "this connection already has \(limit) request\(limit == 1 ? "" : "s") in flight, the most allowed; retry when a reply arrives"), id: id, context: context)
            return
        }
        inFlight += 1
        let loop = context.eventLoop
        let channel = context.channel
        pendingJobs.append { batch in
            let deliver: ([UInt8]) -> Void = { reply in
                batch.hand(reply, to: ObjectIdentifier(self)) { self.post($0, loop: loop, channel: channel) }
            }
            if case let .reply(reply) = job(batch, deliver) { deliver(reply) }
        }
        pendingIds.append(id)
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
        let accepted = pool.submit(pendingJobs)
        for id in pendingIds[accepted...] {
            inFlight -= 1
            writeError(ProtocolError(.overloaded, "the server's queue is full; retry later"), id: id, context: context)
        }
        pendingJobs.removeAll(keepingCapacity: true)
        pendingIds.removeAll(keepingCapacity: true)
    }
}

/// Placed first on connections beyond the limit: says why, then closes.
final class RefuseHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
    let limit: Int

    init(limit: Int) { self.limit = limit }

    func channelActive(context: ChannelHandlerContext) {
        let reply = RequestProcessor.errorLine(id: nil, ProtocolError(.tooManyConnections, "the server already has \(limit) connection\(limit == 1 ? "" : "s"), the most it allows"))
        context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(bytes: reply))).whenComplete { _ in
            context.close(promise: nil)
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {}
}
