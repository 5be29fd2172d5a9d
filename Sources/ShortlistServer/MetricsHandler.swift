import Foundation
import NIOCore

/// A minimal HTTP/1.x responder for Prometheus scrapes: `GET /metrics` (or `/`) gets the text
/// exposition format, anything else 404; one request per connection.
final class MetricsHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let render: () -> String
    /// With a token, requests must carry `Authorization: Bearer TOKEN` (else 401).
    private let token: String?
    private var request: [UInt8] = []
    private var answered = false

    init(token: String? = nil, render: @escaping () -> String) {
        self.token = token
        self.render = render
    }

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
        let found = parts.first == "GET" && (path == "/metrics" || path == "/")
        let authorized = token.map { t in
            text.split(whereSeparator: \.isNewline).contains { line in
                let l = line.lowercased()
                return l.hasPrefix("authorization:") && RequestProcessor.constantTimeEqual(
                    Array(line.dropFirst("authorization:".count).trimmingCharacters(in: .whitespaces).utf8), Array("Bearer \(t)".utf8))
            }
        } ?? true
        let ok = found && authorized
        let body = ok ? render() : authorized ? "not found: try GET /metrics\n" : "unauthorized: send Authorization: Bearer <the server's auth token>\n"
        let status = ok ? "200 OK" : authorized ? "404 Not Found" : "401 Unauthorized"
        let head = "HTTP/1.1 \(status)\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\nContent-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n"
        context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(string: head + body))).whenComplete { _ in
            context.close(promise: nil)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) { context.close(promise: nil) }
}
