import Dispatch
import Synchronization

/// Runs independent chunks of work on a fixed number of threads.
public enum Parallel {
    /// The number of CPUs available to this process.
    public static var availableCores: Int {
        max(1, sysconfCores())
    }

    /// Calls `body(chunk)` for every chunk in `0..<chunkCount`, on `threads` threads (1 runs inline,
    /// in order). Chunks are handed out dynamically, so uneven chunks balance.
    public static func forEach(chunkCount: Int, threads: Int, _ body: @Sendable (Int) -> Void) {
        let threads = max(1, min(threads, chunkCount))
        if threads == 1 {
            for c in 0..<chunkCount { body(c) }
            return
        }
        let next = Atomic<Int>(0)
        withoutActuallyEscaping(body) { body in
            let box = SendableBox(body)
            withUnsafePointer(to: next) { nextPointer in
                let counter = SendablePointer(nextPointer)
                DispatchQueue.concurrentPerform(iterations: threads) { _ in
                    while true {
                        let c = counter.pointer.pointee.wrappingAdd(1, ordering: .relaxed).oldValue
                        if c >= chunkCount { break }
                        box.value(c)
                    }
                }
            }
        }
    }
}

private struct SendableBox<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}

private struct SendablePointer<T: ~Copyable>: @unchecked Sendable {
    let pointer: UnsafePointer<T>
    init(_ pointer: UnsafePointer<T>) { self.pointer = pointer }
}

#if canImport(Glibc)
import Glibc
private func sysconfCores() -> Int { Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))) }
#else
private func sysconfCores() -> Int { 1 }
#endif
