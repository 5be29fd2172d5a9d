import Foundation
import NIOCore
import NIOHTTP1

/// The server's HTTP side (NIOHTTP1): `GET /metrics` (or `/`), the Prometheus text exposition
/// format; `GET /healthz`, 200 while the process serves; `GET /readyz`, 200 once the collections
/// are loaded and until a shutdown begins, 503 after. With a token, `/metrics` needs
/// `Authorization: Bearer TOKEN` (401 otherwise); the probes never do. Anything else is 404 (405
/// for a method other than GET or HEAD). Keep-alive requests are answered in turn.
final class MetricsHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let render: () -> String
    private let isReady: () -> Bool
    private let token: String?
    private var head: HTTPRequestHead?

    init(token: String? = nil, isReady: @escaping () -> Bool = { true }, render: @escaping () -> String) {
        self.token = token
        self.isReady = isReady
        self.render = render
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let request): head = request
        case .body: break
        case .end:
            guard let request = head else { return }
            head = nil
            let (status, body, isMetrics) = answer(request)
            respond(context: context, request: request, status: status, body: request.method == .HEAD ? "" : body,
                    length: body.utf8.count, contentType: isMetrics ? "text/plain; version=0.0.4; charset=utf-8" : "text/plain; charset=utf-8")
        }
    }

    /// The status, the body, and whether it is the Prometheus exposition.
    private func answer(_ request: HTTPRequestHead) -> (HTTPResponseStatus, String, Bool) {
        guard request.method == .GET || request.method == .HEAD else { return (.methodNotAllowed, "use GET\n", false) }
        let path = request.uri.split(separator: "?", maxSplits: 1).first.map(String.init) ?? request.uri
        switch path {
        case "/healthz": return (.ok, "ok\n", false)
        case "/readyz": return isReady() ? (.ok, "ready\n", false) : (.serviceUnavailable, "not ready: shutting down\n", false)
        case "/metrics", "/":
            if let token {
                let given = request.headers["authorization"].first ?? ""
                guard RequestProcessor.constantTimeEqual(Array(given.trimmingCharacters(in: .whitespaces).utf8), Array("Bearer \(token)".utf8)) else {
                    return (.unauthorized, "unauthorized: send Authorization: Bearer <the server's auth token>\n", false)
                }
            }
            return (.ok, render(), true)
        default: return (.notFound, "not found: try GET /metrics, /healthz or /readyz\n", false)
        }
    }

    private func respond(context: ChannelHandlerContext, request: HTTPRequestHead, status: HTTPResponseStatus, body: String, length: Int,
                         contentType: String) {
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: contentType)
        headers.add(name: "Content-Length", value: String(length))
        let keepAlive = request.isKeepAlive
        headers.add(name: "Connection", value: keepAlive ? "keep-alive" : "close")
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: request.version, status: status, headers: headers))), promise: nil)
        if !body.isEmpty { context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(string: body)))), promise: nil) }
        context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in
            if !keepAlive { context.close(promise: nil) }
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) { context.close(promise: nil) }
}
