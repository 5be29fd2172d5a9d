import Foundation
import Synchronization
import ShortlistCore
import ShortlistIndex
import ShortlistTestSupport
import XCTest
@testable import ShortlistServer
import ShortlistClient

/// Kill-and-restart: a client streams upserts, deletes and saves to a real `shortlist serve`
/// process and records what was acknowledged; the process is killed with SIGKILL at a random
/// moment (during writes, syncs, snapshots), restarted, and the collection must hold every
/// acknowledged write, and of the one request that was in flight either all or nothing.
/// `SHORTLIST_KILL_CYCLES` sets the number of cycles (default 12; the long run uses 200).
final class CrashRecoveryTests: XCTestCase {
    /// The debug build's executable, or `SHORTLIST_BINARY` (a release build for long runs).
    static var binary: String {
        ProcessInfo.processInfo.environment["SHORTLIST_BINARY"]
            ?? URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../.build/debug/shortlist").standardized.path
    }

    /// Starts `shortlist serve` and returns the process and its port.
    static func startServer(_ arguments: [String]) throws -> (Process, Int) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: binary)
        p.arguments = ["serve", "--port", "0"] + arguments
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle.nullDevice
        try p.run()
        var text = ""
        let deadline = Date().addingTimeInterval(30)
        while !text.contains("\n"), Date() < deadline {
            let chunk = out.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            text += String(decoding: chunk, as: UTF8.self)
        }
        guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix("ready") }), let port = Int(line.split(separator: " ")[2]) else {
            p.terminate()
            throw ClientError.connectFailed("the server did not start: \(text)")
        }
        return (p, port)
    }

    func testEveryAcknowledgedWriteSurvivesSIGKILL() throws {
        guard FileManager.default.isExecutableFile(atPath: Self.binary) else { throw XCTSkip("\(Self.binary) is not built") }
        let cycles = Int(ProcessInfo.processInfo.environment["SHORTLIST_KILL_CYCLES"] ?? "") ?? 12
        let dir = TemporaryDirectory()
        let d = 8, ids = 300
        let base = Fixtures.clustered(count: 100, dimension: d, seed: 4)
        try FlatIndex(metric: .l2, vectors: base).save(to: dir.file("items.idx"))
        // What an id holds once every acknowledged write is applied (nil: absent).
        var committed: [UInt64: [Float]] = [:]
        for r in 0..<100 { committed[UInt64(r)] = base.rowArray(r) }
        var rng = SeededGenerator(seed: 2026)
        var acknowledged = 0, killedDuringSave = 0, killedWithWriteInFlight = 0, savesAcknowledged = 0

        for cycle in 0..<cycles {
            let (process, port) = try Self.startServer(["--collection", "items=\(dir.file("items.idx"))", "--fsync", "always", "--snapshot-wal-mb", "1"])
            // Check the recovered state before writing more.
            let checker = try LineClient(host: "127.0.0.1", port: port)
            let all = (0..<ids).map(String.init).joined(separator: ",")
            let got = result(try checker.request(#"{"op":"get","collection":"items","ids":[\#(all)]}"#))
            var present: [UInt64: [Float]] = [:]
            for p in got["points"] as! [[String: Any]] {
                present[(p["id"] as! NSNumber).uint64Value] = (p["vector"] as! [NSNumber]).map(\.floatValue)
            }
            XCTAssertEqual(present, committed, "cycle \(cycle): the recovered collection differs from the acknowledged writes")
            let files = try FileManager.default.contentsOfDirectory(atPath: dir.path)
            XCTAssertEqual(files.filter { $0.contains(".tmp-") }, [], "cycle \(cycle): temporaries of killed saves are cleaned up at start")
            XCTAssertNoThrow(try IndexLoader.load(path: dir.file("items.idx")), "cycle \(cycle): the index file loads by itself")
            if present != committed { process.terminate(); return }

            // Stream writes from a thread; kill the server at a random moment.
            let writerDone = DispatchSemaphore(value: 0)
            let log = WriterLog()
            let writerSeed = rng.next()
            Thread.detachNewThread {
                defer { writerDone.signal() }
                var localRng = SeededGenerator(seed: writerSeed)
                guard let c = try? LineClient(host: "127.0.0.1", port: port, timeout: 5) else { return }
                var seq = 0
                while true {
                    seq += 1
                    let id = UInt64(localRng.next() % UInt64(ids))
                    let roll = localRng.next() % 100
                    let line: String
                    var target: [Float]?
                    if roll < 4 {
                        line = #"{"op":"save"}"#
                        log.withLock { $0.saving = true }
                        guard let reply = try? c.request(line), json(reply)["ok"] as? Bool == true else { return }
                        log.withLock { $0.saving = false }
                        continue
                    } else if roll < 25 {
                        line = #"{"op":"delete","collection":"items","ids":[\#(id)]}"#
                    } else {
                        target = (0..<d).map { Float(cycle * 1_000_000 + seq) + Float($0) / 8 }
                        line = #"{"op":"upsert","collection":"items","points":[{"id":\#(id),"vector":\#(ServerFixtures.vectorJSON(target!))}]}"#
                    }
                    log.withLock { $0.inFlight = (id, target) }
                    guard let reply = try? c.request(line) else { return }
                    guard json(reply)["ok"] as? Bool == true else { return }
                    log.withLock { $0.acked.append((id, target)); $0.inFlight = nil }
                }
            }
            // Other clients ask for saves all along: snapshots overlap each other and the writes.
            let saversDone = DispatchGroup()
            let stopSaving = Mutex(false)
            let concurrentSaves = Mutex(0)
            for _ in 0..<2 {
                Thread.detachNewThread {
                    saversDone.enter()
                    defer { saversDone.leave() }
                    guard let c = try? LineClient(host: "127.0.0.1", port: port, timeout: 5) else { return }
                    while !stopSaving.withLock({ $0 }) {
                        guard let reply = try? c.request(#"{"op":"save","collection":"items"}"#) else { return }
                        if reply.contains(#""ok":true"#) { concurrentSaves.withLock { $0 += 1 } }
                        usleep(UInt32.random(in: 0...3_000))
                    }
                }
            }
            usleep(UInt32(20_000 + rng.next() % 180_000))
            // Half the time the process is frozen first (a stalled disk or a debugger), then killed.
            if rng.next() % 2 == 0 {
                kill(process.processIdentifier, SIGSTOP)
                usleep(UInt32(rng.next() % 20_000))
            }
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            stopSaving.withLock { $0 = true }
            writerDone.wait()
            saversDone.wait()
            let (acked, saving, pending) = log.withLock { ($0.acked, $0.saving, $0.inFlight) }
            for (id, target) in acked { committed[id] = target }
            acknowledged += acked.count
            savesAcknowledged += concurrentSaves.withLock { $0 }
            if saving { killedDuringSave += 1 }
            // The request in flight at the kill may have been applied or not: learn which from
            // the next start, and accept only its whole effect or none.
            if let pending {
                killedWithWriteInFlight += 1
                let (p2, port2) = try Self.startServer(["--collection", "items=\(dir.file("items.idx"))", "--fsync", "always"])
                let c = try LineClient(host: "127.0.0.1", port: port2)
                let g = result(try c.request(#"{"op":"get","collection":"items","ids":[\#(pending.id)]}"#))
                let now = (g["points"] as! [[String: Any]]).first.map { ($0["vector"] as! [NSNumber]).map(\.floatValue) }
                XCTAssertTrue(now == committed[pending.id] || now == pending.vector,
                              "cycle \(cycle): id \(pending.id) holds \(String(describing: now)), neither its acknowledged state nor the in-flight one")
                committed[pending.id] = now
                kill(p2.processIdentifier, SIGKILL)
                p2.waitUntilExit()
            }
        }
        XCTAssertGreaterThan(acknowledged, cycles, "the writer made progress")
        print("kill-and-restart: \(cycles) kills, \(acknowledged) acknowledged writes, none lost; \(savesAcknowledged) saves acknowledged by two clients saving all along; killed with a write in flight \(killedWithWriteInFlight) times, during the writer's save \(killedDuringSave) times; the index file loaded by itself after every kill")
    }
}

/// What the writer thread of the kill-and-restart test has done, shared under a lock.
private final class WriterLog: @unchecked Sendable {
    private let lock = NSLock()
    /// The write sent and not yet acknowledged (`vector` nil for a delete).
    var inFlight: (id: UInt64, vector: [Float]?)?
    /// Acknowledged writes in order (`nil`: deleted).
    var acked: [(UInt64, [Float]?)] = []
    /// A `save` is in flight.
    var saving = false

    func withLock<T>(_ body: (WriterLog) -> T) -> T {
        lock.lock()
        defer { lock.unlock() }
        return body(self)
    }
}
