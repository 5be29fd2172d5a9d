import NIOCore
import ShortlistCore

/// Adaptive busy-polling of the event loop: after traffic, the loop keeps polling its sockets
/// (a non-blocking `epoll_wait` between runs of a self-rescheduling task) for a short while
/// instead of sleeping, so the next request of a client that waits for each reply is read
/// without a scheduler wake-up.
///
/// On a virtual machine, waking a halted core costs ~45 µs each way, which bounds a sleeping
/// server to ~10,000 round trips per second on one connection whatever its own cost. The loop
/// only spins while the worker pool is idle (spinning beside searches would take a core from
/// them) and stops `window` after the last traffic, so an idle server uses no CPU.
///
/// Touched only on its event loop.
final class LoopSpinner {
    private let loop: EventLoop
    private let window: UInt64
    private let poolIdle: () -> Bool
    private var deadline: UInt64 = 0
    private var spinning = false

    /// `windowNanoseconds` 0 disables spinning.
    init(loop: EventLoop, windowNanoseconds: UInt64, poolIdle: @escaping () -> Bool) {
        self.loop = loop
        window = windowNanoseconds
        self.poolIdle = poolIdle
    }

    /// Traffic happened: keep polling until `window` from now (while the pool is idle).
    func poke() {
        guard window > 0 else { return }
        deadline = MonotonicClock.nanoseconds() + window
        guard !spinning, poolIdle() else { return }
        spinning = true
        loop.execute { self.tick() }
    }

    private func tick() {
        guard MonotonicClock.nanoseconds() < deadline, poolIdle() else {
            spinning = false
            return
        }
        // A task due a moment from now makes the loop's next wait (almost always) non-blocking.
        // A task due at once would not: the loop runs those until none is left before polling.
        loop.scheduleTask(in: .microseconds(1)) { self.tick() }
    }
}
