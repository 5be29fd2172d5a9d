import Foundation
import XCTest
@testable import ShortlistServer

/// The pool's batches: replies staged by the jobs one worker took together reach each
/// connection in one hand-over, in order, when the batch ends.
final class WorkerPoolTests: XCTestCase {
    /// Hand-overs as they happen: (destination, replies).
    private final class Log: @unchecked Sendable {
        private let lock = NSLock()
        private var entries: [(String, [[UInt8]])] = []
        func add(_ name: String, _ replies: [[UInt8]]) { lock.lock(); entries.append((name, replies)); lock.unlock() }
        var all: [(String, [[UInt8]])] { lock.lock(); defer { lock.unlock() }; return entries }
    }

    private final class Destination {}

    /// A context that records when its batches end, and what had been delivered by then.
    private final class Context: WorkerContext {
        nonisolated(unsafe) static var log = Log()
        var jobsThisBatch = 0
        init() {}
        func finishBatch() {
            Self.log.add("finish", [[UInt8(jobsThisBatch)]])
            jobsThisBatch = 0
        }
    }

    private typealias Pool = WorkerPool<Context>

    func testABatchHandsEachDestinationItsRepliesOnceInOrder() {
        // One worker, jobs submitted under one lock: the worker takes all six as one batch.
        let pool = Pool(threads: 1, capacity: 16, spinNanoseconds: 0)
        defer { pool.stop() }
        let log = Log()
        let a = Destination(), b = Destination()
        let jobs: [Pool.Job] = (0..<6).map { i in
            { batch in
                let (name, key) = i % 2 == 0 ? ("a", ObjectIdentifier(a)) : ("b", ObjectIdentifier(b))
                batch.hand([UInt8(i)], to: key) { log.add(name, $0) }
            }
        }
        XCTAssertEqual(pool.submit(jobs), 6)
        XCTAssertTrue(pool.waitUntilIdle(timeout: 10))
        let entries = log.all
        XCTAssertEqual(entries.map(\.0), ["a", "b"])
        XCTAssertEqual(entries.map(\.1), [[[0], [2], [4]], [[1], [3], [5]]])
    }

    func testAReplyHandedFromAnotherThreadGoesAtOnce() {
        // A write acknowledged by the log's syncer thread must not wait for a batch it is not part of.
        let pool = Pool(threads: 1, capacity: 16, spinNanoseconds: 0)
        defer { pool.stop() }
        let log = Log()
        let a = Destination()
        let job: Pool.Job = { batch in
            batch.hand([1], to: ObjectIdentifier(a)) { log.add("staged", $0) }
            let done = DispatchSemaphore(value: 0)
            Thread {
                batch.hand([2], to: ObjectIdentifier(a)) { log.add("direct", $0) }
                done.signal()
            }.start()
            done.wait()
            // Delivered while this job still runs, before the staged reply.
            XCTAssertEqual(log.all.map(\.0), ["direct"])
        }
        XCTAssertEqual(pool.submit([job]), 1)
        XCTAssertTrue(pool.waitUntilIdle(timeout: 10))
        XCTAssertEqual(log.all.map(\.0), ["direct", "staged"])
        XCTAssertEqual(log.all.map(\.1), [[[2]], [[1]]])
    }

    func testBatchesDoNotCarryRepliesOver() {
        // Two batches one after the other: each delivers only its own replies.
        let pool = Pool(threads: 1, capacity: 16, spinNanoseconds: 0)
        defer { pool.stop() }
        let log = Log()
        let a = Destination()
        for round in 0..<2 {
            let jobs: [Pool.Job] = (0..<3).map { i in
                { batch in batch.hand([UInt8(round * 10 + i)], to: ObjectIdentifier(a)) { log.add("a", $0) } }
            }
            XCTAssertEqual(pool.submit(jobs), 3)
            XCTAssertTrue(pool.waitUntilIdle(timeout: 10))
        }
        XCTAssertEqual(log.all.map(\.1), [[[0], [1], [2]], [[10], [11], [12]]])
    }

    func testLanesAreServedRoundRobinAndALoneRequestAlwaysGetsIn() {
        // One worker, a full queue of one connection's slow jobs, then one job of another.
        let pool = Pool(threads: 1, capacity: 40, spinNanoseconds: 0)
        defer { pool.stop() }
        let order = Log()
        let busy = Pool.Lane(), polite = Pool.Lane()
        let gate = DispatchSemaphore(value: 0), holding = DispatchSemaphore(value: 0)
        // The first job holds the worker until everything is queued.
        XCTAssertEqual(pool.submit([{ _ in holding.signal(); gate.wait() }], lane: busy), 1)
        XCTAssertEqual(holding.wait(timeout: .now() + 10), .success)
        let slow: [Pool.Job] = (0..<40).map { i in { _ in order.add("busy", [[UInt8(i)]]); usleep(2_000) } }
        // The worker holds the first job: 40 more fill the queue.
        XCTAssertEqual(pool.submit(slow, lane: busy), 40)
        XCTAssertEqual(pool.submit(slow, lane: busy), 0, "the queue is full")
        // Full, but a connection with nothing queued still gets its one request in.
        XCTAssertEqual(pool.submit([{ _ in order.add("polite", []) }], lane: polite), 1)
        gate.signal()
        XCTAssertTrue(pool.waitUntilIdle(timeout: 30))
        let position = order.all.firstIndex { $0.0 == "polite" }
        XCTAssertNotNil(position)
        XCTAssertLessThanOrEqual(position ?? 99, 1, "the lone request waited behind the backlog: position \(position ?? -1) of 41")
    }

    func testTheContextFinishesEachBatchBeforeItsRepliesGo() {
        // Jobs leave work in their worker's context (as searches wait in a SearchBatcher); the
        // batch's end finishes it, then delivers the replies.
        Context.log = Log()
        let pool = Pool(threads: 1, capacity: 16, spinNanoseconds: 0)
        defer { pool.stop() }
        let a = Destination()
        let jobs: [Pool.Job] = (0..<4).map { i in
            { batch in
                batch.context.jobsThisBatch += 1
                batch.hand([UInt8(i)], to: ObjectIdentifier(a)) { Context.log.add("a", $0) }
            }
        }
        XCTAssertEqual(pool.submit(jobs), 4)
        XCTAssertTrue(pool.waitUntilIdle(timeout: 10))
        let entries = Context.log.all
        XCTAssertEqual(entries.map(\.0), ["finish", "a"])
        XCTAssertEqual(entries.first?.1, [[4]], "one batch of four jobs")
        XCTAssertEqual(entries.last?.1, [[0], [1], [2], [3]])
    }
}
