import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A blocking TCP connection speaking lines: send bytes, read reply lines. `ShortlistClient`
/// is built on it; the load generator and the tests use it directly to send any bytes at all.
public final class LineClient {
    private let fd: Int32
    private var buffer = [UInt8](repeating: 0, count: 1 << 16)
    private var start = 0
    private var end = 0

    /// Connects to `host:port` with TCP_NODELAY; reads give up after `timeout` seconds.
    public init(host: String, port: Int, timeout: Double = 30) throws {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var result: UnsafeMutablePointer<addrinfo>?
        let rc = getaddrinfo(host, String(port), &hints, &result)
        guard rc == 0, let first = result else { throw ClientError.connectFailed("\(host):\(port): \(String(cString: gai_strerror(rc)))") }
        defer { freeaddrinfo(result) }
        var connected: Int32 = -1
        var lastError = ""
        var a: UnsafeMutablePointer<addrinfo>? = first
        while let info = a {
            let s = socket(info.pointee.ai_family, info.pointee.ai_socktype, info.pointee.ai_protocol)
            if s >= 0 {
                if connect(s, info.pointee.ai_addr, info.pointee.ai_addrlen) == 0 { connected = s; break }
                lastError = String(cString: strerror(errno))
                Glibc.close(s)
            }
            a = info.pointee.ai_next
        }
        guard connected >= 0 else { throw ClientError.connectFailed("\(host):\(port): \(lastError)") }
        fd = connected
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        var tv = timeval(tv_sec: Int(timeout), tv_usec: Int((timeout - Double(Int(timeout))) * 1e6))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    }

    deinit { Glibc.close(fd) }

    /// Makes later reads give up (`ClientError.timeout`) after `seconds`.
    public func setReceiveTimeout(_ seconds: Double) {
        let s = max(0.001, seconds)
        var tv = timeval(tv_sec: Int(s), tv_usec: Int((s - Double(Int(s))) * 1e6))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    }

    /// The socket, for `poll`.
    public var descriptor: Int32 { fd }

    /// Sends bytes as they are (include the newline).
    public func send(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let n = Glibc.send(fd, raw.baseAddress! + offset, raw.count - offset, Int32(MSG_NOSIGNAL))
                if n < 0 {
                    if errno == EINTR { continue }
                    throw ClientError.io("send: \(String(cString: strerror(errno)))")
                }
                offset += n
            }
        }
    }

    /// Sends `line` followed by a newline.
    public func send(line: String) throws { try send(Array((line + "\n").utf8)) }

    /// The next line (without its newline), or nil when the server closed the connection.
    public func readLine() throws -> [UInt8]? {
        while true {
            if let line = takeLine() { return line }
            guard try fill() else { return nil }
        }
    }

    /// Waits for at least one complete line, then calls `body` with every complete line received
    /// so far (without newlines, valid only during the call). Returns false when the server closed
    /// the connection. One receive call serves many pipelined replies.
    public func receiveLines(_ body: (UnsafeBufferPointer<UInt8>) -> Void) throws -> Bool {
        var delivered = false
        while !delivered {
            buffer.withUnsafeBufferPointer { all in
                while end > start, let p = memchr(all.baseAddress! + start, 0x0A, end - start) {
                    let nl = all.baseAddress!.distance(to: p.assumingMemoryBound(to: UInt8.self))
                    body(UnsafeBufferPointer(rebasing: all[start..<nl]))
                    start = nl + 1
                    delivered = true
                }
            }
            if !delivered { guard try fill() else { return false } }
        }
        return true
    }

    private func takeLine() -> [UInt8]? {
        guard end > start, let nl = buffer[start..<end].firstIndex(of: 0x0A) else { return nil }
        let line = Array(buffer[start..<nl])
        start = nl + 1
        return line
    }

    /// Receives more bytes (blocking); false at end of stream.
    private func fill() throws -> Bool {
        if start > 0 {
            if end > start { buffer.withUnsafeMutableBytes { _ = memmove($0.baseAddress!, $0.baseAddress! + start, end - start) } }
            end -= start
            start = 0
        }
        if end == buffer.count { buffer.append(contentsOf: repeatElement(0, count: buffer.count)) }
        while true {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress! + end, $0.count - end, 0) }
            if n == 0 { return false }
            if n < 0 {
                if errno == EINTR { continue }
                if errno == EAGAIN || errno == EWOULDBLOCK { throw ClientError.timeout }
                throw ClientError.io("recv: \(String(cString: strerror(errno)))")
            }
            end += n
            return true
        }
    }

    /// Sends one line and returns the next reply line as text.
    public func request(_ line: String) throws -> String {
        try send(line: line)
        guard let reply = try readLine() else { throw ClientError.closed }
        return String(decoding: reply, as: UTF8.self)
    }

    /// Sends `bytes` (a whole line with its newline) and returns the next line, or nil when the
    /// server closed the connection.
    public func request(_ bytes: [UInt8]) throws -> [UInt8]? {
        try send(bytes)
        return try readLine()
    }

    /// Whether bytes or the end of the stream are waiting to be read (without blocking). With no
    /// request outstanding this means the server has closed, or is closing, an idle connection.
    public var hasInputWaiting: Bool {
        if end > start { return true }
        var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        return poll(&p, 1, 0) > 0
    }

    /// Half-closes the sending side (the server sees end of input).
    public func shutdownWrite() { Glibc.shutdown(fd, Int32(SHUT_WR)) }
}
