import NIOCore

/// Closing a connection without losing the last reply to a reset: closing a socket whose
/// client has sent bytes the server did not read makes the kernel send RST, and a client that
/// has not yet read the reply loses it. So the reply is sent, the sending side is shut (the
/// client reads the reply, then end of file), what the client still sends is read and dropped,
/// and the socket is closed once the client closes its side, or after two seconds.
enum GracefulClose {
    static func close(context: ChannelHandlerContext, after reply: ByteBuffer) {
        context.writeAndFlush(NIOAny(reply)).whenComplete { _ in
            context.close(mode: .output, promise: nil)
        }
        let channel = context.channel
        context.eventLoop.scheduleTask(in: .seconds(2)) { channel.close(promise: nil) }
    }

    /// Call from `userInboundEventTriggered`: the client closed its side, so the socket can go.
    static func inputClosed(context: ChannelHandlerContext, event: Any) {
        if let e = event as? ChannelEvent, e == .inputClosed { context.close(promise: nil) }
    }
}
