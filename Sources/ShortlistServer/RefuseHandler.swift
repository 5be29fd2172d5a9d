import NIOCore
import ShortlistProtocol

/// Placed first on connections beyond the limit: says why, then closes.
final class RefuseHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
    let limit: Int

    init(limit: Int) { self.limit = limit }

    func channelActive(context: ChannelHandlerContext) {
        let reply = RequestProcessor.errorLine(id: nil, ProtocolError(.tooManyConnections, "the server already has \(limit) connection\(limit == 1 ? "" : "s"), the most it allows"))
        GracefulClose.close(context: context, after: context.channel.allocator.buffer(bytes: reply))
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {}

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        GracefulClose.inputClosed(context: context, event: event)
    }
}
