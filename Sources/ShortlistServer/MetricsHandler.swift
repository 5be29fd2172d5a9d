import NIOCore

/// A minimal HTTP/1.x responder for Prometheus scrapes: `GET /metrics` (or `/`) gets the text
/// exposition format, anything else 404; one request per connection.
final class MetricsHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let render: () -> String
    private var request: [UInt8] = []
    private var answered = false

    init(render: @escaping () -> String) { self.render = render }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !answered else { return }
        var b = unwrapInboundIn(data)
        request.append(contentsOf: b.readBytes(length: b.readableBytes) ?? [])
        let text = String(decoding: request, as: UTF8.self)
        guard text.contains("\r\n\r\n") || text.contains("\n\n") || request.count > 16 << 10 else { return }
        answered = true
        let firstLine = text.split(separator: "\n", maxSplits: 1).first.map(String.init) ?? ""
        let parts = firstLine.split(separator: " ")
        let path = parts.count > 1 ? parts[1] : ""
        let ok = parts.first == "GET" && (path == "/metrics" || path == "/")
        let body = ok ? render() : "not found: try GET /metrics\n"
        let status = ok ? "200 OK" : "404 Not Found"
        let head = "HTTP/1.1 \(status)\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\nContent-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n"
        context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(string: head + body))).whenComplete { _ in
            context.close(promise: nil)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) { context.close(promise: nil) }
}
