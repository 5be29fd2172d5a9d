import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// A client of etcd's documented v3 JSON gateway (`POST /v3/kv/range`, `/v3/kv/put`,
/// `/v3/kv/txn`, `/v3/kv/deleterange`, `/v3/lease/grant`, `/v3/lease/keepalive`,
/// `/v3/lease/revoke`) over HTTP: what a Shortlist cluster needs to coordinate (membership under
/// leases, a primary per shard elected by a transaction). Keys and values travel base64-encoded,
/// as the gateway requires. Calls block; safe to share between threads.
public final class EtcdClient: @unchecked Sendable {
    /// The etcd client URL, e.g. `http://127.0.0.1:2379`.
    public let endpoint: URL
    /// Seconds a call waits for etcd.
    public let timeout: Double
    private let session: URLSession

    /// A stored key.
    public struct KeyValue: Equatable, Sendable {
        public var key: String
        public var value: [UInt8]
        /// The revision that created the key (it names the key's incarnation).
        public var createRevision: Int64
        public var modRevision: Int64
        /// The lease the key lives under (0: none).
        public var lease: Int64

        /// The value as UTF-8 text.
        public var text: String { String(decoding: value, as: UTF8.self) }
    }

    public enum Failure: Error, Equatable, CustomStringConvertible {
        case unreachable(String)
        case badReply(String)
        case refused(status: Int, message: String)

        public var description: String {
            switch self {
            case let .unreachable(s): return "etcd unreachable: \(s)"
            case let .badReply(s): return "etcd sent an unexpected reply: \(s)"
            case let .refused(status, message): return "etcd refused the request (HTTP \(status)): \(message)"
            }
        }
    }

    public init(endpoint: String, timeout: Double = 5) throws {
        guard let url = URL(string: endpoint), url.scheme == "http" || url.scheme == "https", url.host != nil else {
            throw Failure.unreachable("'\(endpoint)' is not an http(s) URL such as http://127.0.0.1:2379")
        }
        self.endpoint = url
        self.timeout = timeout
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = timeout
        configuration.timeoutIntervalForResource = timeout
        session = URLSession(configuration: configuration)
    }

    // MARK: Keys

    /// Sets `key` to `value`, under `lease` when given (the key then dies with the lease).
    public func put(_ key: String, _ value: [UInt8], lease: Int64? = nil) throws {
        var body: [String: Any] = ["key": Self.encode(key), "value": Data(value).base64EncodedString()]
        if let lease { body["lease"] = String(lease) }
        _ = try call("kv/put", body)
    }

    /// The key, or nil when it does not exist.
    public func get(_ key: String) throws -> KeyValue? {
        try Self.keyValues(try call("kv/range", ["key": Self.encode(key)])).first
    }

    /// Every key starting with `prefix`, in key order.
    public func list(prefix: String) throws -> [KeyValue] {
        try Self.keyValues(try call("kv/range", ["key": Self.encode(prefix), "range_end": Self.encode(Self.prefixEnd(prefix))]))
    }

    /// Deletes `key` (nothing when it does not exist).
    public func delete(_ key: String) throws {
        _ = try call("kv/deleterange", ["key": Self.encode(key)])
    }

    /// Creates `key` = `value` (under `lease`) only if the key does not exist, in one
    /// transaction: the primitive of an election. Returns whether it was created, and the key as
    /// it now stands.
    public func createIfAbsent(_ key: String, _ value: [UInt8], lease: Int64? = nil) throws -> (created: Bool, current: KeyValue?) {
        var put: [String: Any] = ["key": Self.encode(key), "value": Data(value).base64EncodedString()]
        if let lease { put["lease"] = String(lease) }
        let reply = try call("kv/txn", [
            "compare": [["key": Self.encode(key), "target": "CREATE", "result": "EQUAL", "create_revision": "0"]],
            "success": [["request_put": put]],
            "failure": [["request_range": ["key": Self.encode(key)]]],
        ])
        // The reply already holds the key as it stands: ours (the put) or the holder's (the range).
        if reply["succeeded"] as? Bool ?? false {
            let revision = Self.int64((reply["header"] as? [String: Any])?["revision"]) ?? 0
            return (true, KeyValue(key: key, value: value, createRevision: revision, modRevision: revision, lease: lease ?? 0))
        }
        let responses = reply["responses"] as? [[String: Any]] ?? []
        let range = responses.first?["response_range"] as? [String: Any] ?? [:]
        return (false, try Self.keyValues(range).first)
    }

    // MARK: Leases

    /// A lease of `ttlSeconds`; keys put under it vanish when it expires or is revoked.
    public func grantLease(ttlSeconds: Int) throws -> Int64 {
        let reply = try call("lease/grant", ["TTL": String(ttlSeconds)])
        guard let id = Self.int64(reply["ID"]) else { throw Failure.badReply("lease/grant without an ID: \(reply)") }
        return id
    }

    /// Renews `lease`; returns its remaining TTL in seconds (0: it had expired, and its keys are gone).
    public func keepAlive(_ lease: Int64) throws -> Int {
        let reply = try call("lease/keepalive", ["ID": String(lease)])
        let result = reply["result"] as? [String: Any] ?? reply
        return Int(Self.int64(result["TTL"]) ?? 0)
    }

    /// Ends `lease` now, deleting its keys.
    public func revoke(_ lease: Int64) throws {
        _ = try call("lease/revoke", ["ID": String(lease)])
    }

    // MARK: HTTP

    private func call(_ path: String, _ body: [String: Any]) throws -> [String: Any] {
        var request = URLRequest(url: endpoint.appendingPathComponent("v3/" + path))
        request.httpMethod = "POST"
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        request.httpBody = try JSONSerialization.data(withJSONObject: body)
        let done = DispatchSemaphore(value: 0)
        nonisolated(unsafe) var result: (Data?, URLResponse?, Error?) = (nil, nil, nil)
        session.dataTask(with: request) { data, response, error in
            result = (data, response, error)
            done.signal()
        }.resume()
        guard done.wait(timeout: .now() + timeout + 1) == .success else { throw Failure.unreachable("\(endpoint): no answer in \(timeout) s") }
        if let error = result.2 { throw Failure.unreachable("\(endpoint): \(error.localizedDescription)") }
        let status = (result.1 as? HTTPURLResponse)?.statusCode ?? 0
        let data = result.0 ?? Data()
        // The lease keep-alive is a stream: the gateway sends one JSON object per line.
        let first = data.split(separator: UInt8(ascii: "\n")).first ?? data
        let object = (try? JSONSerialization.jsonObject(with: first)) as? [String: Any]
        guard status == 200 else {
            throw Failure.refused(status: status, message: (object?["message"] as? String) ?? (object?["error"] as? String) ?? String(decoding: data.prefix(200), as: UTF8.self))
        }
        guard let object else { throw Failure.badReply(String(decoding: data.prefix(200), as: UTF8.self)) }
        if let error = object["error"] as? [String: Any] {
            throw Failure.refused(status: status, message: (error["message"] as? String) ?? "\(error)")
        }
        return object
    }

    private static func encode(_ key: String) -> String { Data(key.utf8).base64EncodedString() }

    /// The smallest key after every key with `prefix` (etcd's range end for a prefix).
    static func prefixEnd(_ prefix: String) -> String {
        var bytes = Array(prefix.utf8)
        while let last = bytes.last {
            if last < 0xFF {
                bytes[bytes.count - 1] = last + 1
                return String(decoding: bytes, as: UTF8.self)
            }
            bytes.removeLast()
        }
        return "\0"
    }

    private static func int64(_ value: Any?) -> Int64? {
        if let s = value as? String { return Int64(s) }
        if let n = value as? NSNumber { return n.int64Value }
        return nil
    }

    private static func keyValues(_ reply: [String: Any]) throws -> [KeyValue] {
        guard let kvs = reply["kvs"] as? [[String: Any]] else { return [] }
        return try kvs.map { kv in
            guard let k = (kv["key"] as? String).flatMap({ Data(base64Encoded: $0) }) else { throw Failure.badReply("a key without base64 text: \(kv)") }
            let v = (kv["value"] as? String).flatMap { Data(base64Encoded: $0) } ?? Data()
            return KeyValue(key: String(decoding: k, as: UTF8.self), value: Array(v), createRevision: int64(kv["create_revision"]) ?? 0,
                            modRevision: int64(kv["mod_revision"]) ?? 0, lease: int64(kv["lease"]) ?? 0)
        }
    }
}
