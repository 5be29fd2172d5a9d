import Foundation
import ShortlistClient
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// A single-member etcd on loopback ports for the cluster tests, with its data in a temporary
/// folder; stopped when released. etcd comes from Debian's etcd-server (scripts/setup-system).
final class EtcdProcess {
    let endpoint: String
    private let process = Process()
    private let dataDir: String

    init() throws {
        guard let binary = ["/usr/bin/etcd", "/usr/local/bin/etcd"].first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            // scripts/test requires it (so CI never skips these tests); a bare `swift test` skips.
            let why = "etcd is not installed; scripts/setup-system installs Debian's etcd-server"
            if ProcessInfo.processInfo.environment["SHORTLIST_REQUIRE_ETCD"] == "1" { throw EtcdClient.Failure.unreachable(why) }
            throw XCTSkip(why)
        }
        let client = try Self.freePort(), peer = try Self.freePort()
        endpoint = "http://127.0.0.1:\(client)"
        dataDir = NSTemporaryDirectory() + "shortlist-etcd-\(UUID().uuidString)"
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = [
            "--name", "test", "--data-dir", dataDir,
            "--listen-client-urls", endpoint, "--advertise-client-urls", endpoint,
            "--listen-peer-urls", "http://127.0.0.1:\(peer)", "--initial-advertise-peer-urls", "http://127.0.0.1:\(peer)",
            "--initial-cluster", "test=http://127.0.0.1:\(peer)",
        ]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        let etcd = try EtcdClient(endpoint: endpoint, timeout: 1)
        let until = Date().addingTimeInterval(20)
        while true {
            if (try? etcd.get("/ready-check")) != nil || (try? etcd.list(prefix: "/")) != nil { break }
            guard Date() < until, process.isRunning else { throw EtcdClient.Failure.unreachable("etcd did not start at \(endpoint)") }
            usleep(100_000)
        }
    }

    deinit {
        if process.isRunning {
            process.terminate()
            process.waitUntilExit()
        }
        try? FileManager.default.removeItem(atPath: dataDir)
    }

    /// A loopback TCP port nothing listens on (bound once, then released).
    static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        guard bound else { throw EtcdClient.Failure.unreachable("no free port") }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}
