import ArgumentParser
import CShortlistKernels
import Foundation
import ShortlistBench

struct MicrobenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "microbench",
        abstract: "Kernel timings: nanoseconds per code of the 8-bit PQ scan and the 4-bit fast scan.",
        usage: "shortlist microbench [--m <m> ...] [--codes <n>] [--repeats <n>]",
        discussion: """
        Both scans run on one thread over the same number of codes and sub-quantizers, each keeping \
        about 1% of codes, as an IVF-PQ probe does. Medians of --repeats runs.

        Example:
          shortlist microbench --m 16 --m 32 --m 64 --codes 1000000
        """
    )

    @Option(help: "Sub-quantizers per code (repeatable).") var m: [Int] = [16, 32, 64]
    @Option(help: "Codes per scan.") var codes: Int = 1_000_000
    @Option(help: "Timed repetitions per figure.") var repeats: Int = 7

    func run() throws {
        Runtime.prepare(verbose: true)
        guard codes >= 100, codes <= 50_000_000 else { throw ValidationError("--codes must be between 100 and 50,000,000") }
        guard m.allSatisfy({ (1...256).contains($0) }) else { throw ValidationError("--m must be between 1 and 256") }
        print("| m | 8-bit ns/code | 4-bit fast scan ns/code | speed-up | kept (8-bit / 4-bit) |")
        print("|---|---|---|---|---|")
        for value in m {
            let r = ScanBenchmark(m: value, codes: codes, repeats: repeats).run()
            print(String(format: "| %d | %.3f | %.3f | %.1f× | %d / %d |", r.m, r.eightBitNanoseconds, r.fourBitNanoseconds, r.speedup, r.eightBitKept, r.fourBitKept))
        }
    }
}
