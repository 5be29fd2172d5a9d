import Foundation
import ShortlistCore
import Synchronization

/// Output helpers: messages to stderr, and a progress line shown only on a terminal.
enum Terminal {
    static func error(_ message: String) {
        FileHandle.standardError.write(Data((message + "\n").utf8))
    }

    static var stderrIsTerminal: Bool { isatty(2) != 0 }

    /// A progress handler that redraws "label  42% (420/1000)" at most ten times a second, or nil
    /// when stderr is not a terminal (logs stay clean).
    static func progress(_ label: String) -> ProgressHandler? {
        guard stderrIsTerminal else { return nil }
        let last = Mutex<(time: UInt64, percent: Int)>((0, -1))
        return { done, total in
            let percent = total > 0 ? min(100, done * 100 / total) : 100
            let now = DispatchTime.now().uptimeNanoseconds
            let draw = last.withLock { state -> Bool in
                guard percent != state.percent, percent == 100 || now - state.time > 100_000_000 else { return false }
                state = (now, percent)
                return true
            }
            guard draw else { return }
            let line = "\r\(label) \(percent)% (\(done)/\(total))" + (percent == 100 ? "\n" : "")
            FileHandle.standardError.write(Data(line.utf8))
        }
    }
}

/// Wall-clock timing.
struct Stopwatch {
    private let start = DispatchTime.now().uptimeNanoseconds
    var seconds: Double { Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9 }
}
