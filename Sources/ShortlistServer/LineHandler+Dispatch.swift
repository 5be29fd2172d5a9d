import NIOCore
import ShortlistCore
import ShortlistProtocol
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Handing requests to the workers, and their replies back to the socket.
extension LineHandler {
    /// Writes every finished reply in one buffer and flushes once (on the event loop).
    func drainOutbox(_ channel: Channel) {
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
    func closeIfFinished(_ channel: Channel) {
        guard inputClosed, inFlight == 0, (buffer?.readableBytes ?? 0) == 0 || discarding else { return }
        channel.writeAndFlush(channel.allocator.buffer(capacity: 0)).whenComplete { _ in channel.close(promise: nil) }
    }

    /// An error reply decided here rather than by the processor (counted in `stats` by code).
    func writeError(_ error: ProtocolError, id: [UInt8]?, context: ChannelHandlerContext) {
        processor.stats.recordError(error.code)
        write(RequestProcessor.errorLine(id: id, error), context: context)
    }

    func write(_ bytes: [UInt8], context: ChannelHandlerContext) {
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
    func dispatch(id: [UInt8]?, isWrite: Bool, bytes: Int, context: ChannelHandlerContext,
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
    func readAnswered(loop: EventLoop, context: ChannelHandlerContext) {
        if readsUnanswered.subtract(1, limit: 1) { loop.execute { self.resume(context: context) } }
    }

    /// A write of this connection has been applied (or refused): the lines after it may run.
    func writeApplied(context: ChannelHandlerContext) {
        writesUnapplied -= 1
        resume(context: context)
    }

    /// Queues finished replies for the event loop (any thread). Only replies into an empty outbox
    /// wake the loop; later ones ride along with that wake-up.
    func post(_ replies: [[UInt8]], loop: EventLoop, channel: Channel) {
        let wasEmpty = outbox.withLock { o in
            let empty = o.isEmpty
            o.append(contentsOf: replies)
            return empty
        }
        if wasEmpty { loop.execute { self.drainOutbox(channel) } }
    }

    /// Submits the jobs gathered from one read; those that do not fit get `overloaded`.
    func submitPending(context: ChannelHandlerContext) {
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
