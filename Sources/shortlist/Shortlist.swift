import ArgumentParser
import CShortlistKernels
import Foundation
import Logging
import ShortlistCore

@main
struct Shortlist: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "shortlist",
        abstract: "Candidate retrieval: build vector indexes, search them, and measure recall.",
        discussion: """
        Examples:
          shortlist build --input items.fvecs --spec Flat --metric cosine \\
              --output index-data/items.idx
          shortlist search --index index-data/items.idx --queries queries.fvecs \\
              --k 10 --output results.ivecs
          shortlist inspect index-data/items.idx
        """,
        version: "0.1.0",
        subcommands: [TrainCommand.self, EvaluateCommand.self, RecommendCommand.self, TrainBenchCommand.self, BuildCommand.self, SearchCommand.self, GroundTruthCommand.self, InspectCommand.self, CompactCommand.self, ServeCommand.self, LoadtestCommand.self, BenchCommand.self, SynthCommand.self, PlotCommand.self, TuneCommand.self, MicrobenchCommand.self, FilteredBenchCommand.self, ClusterCommand.self, RouteCommand.self]
    )

    static func main() {
        Runtime.selectBLASKernels()
        main(nil)
    }
}

/// Process-wide set-up for commands that compute: report the BLAS in use and stop OpenBLAS
/// from starting its own threads (Shortlist parallelises across queries itself).
enum Runtime {
    /// With `log` (the server), the lines go to it, as info and warnings; else to standard error.
    static func prepare(verbose: Bool = false, log: Logger? = nil) {
        let blas = BLAS.runtime
        let info: (String) -> Void = { message in if let log { log.info("\(message)") } else { Terminal.error(message) } }
        // Messages to standard error carry their own "warning: " prefix; the log has levels instead.
        let warn: (String) -> Void = { message in
            guard let log else { return Terminal.error(message) }
            log.warning("\(message.hasPrefix("warning: ") ? String(message.dropFirst("warning: ".count)) : message)")
        }
        if let warning = blas.warning { warn(warning) }
        else if verbose {
            let coreType = getenv("OPENBLAS_CORETYPE").map { " (OPENBLAS_CORETYPE=\(String(cString: $0)))" } ?? ""
            info("BLAS: \(blas.summary)\(coreType); kernels: \(String(cString: sk_isa_name(sk_isa_active())))")
        }
        if let core = blas.recommendedCoreType {
            warn("warning: OpenBLAS runs its generic '\(blas.coreName ?? "?")' kernels; set OPENBLAS_CORETYPE=\(core) for ~3× faster batch search")
        }
        blas.setThreads(1)
    }

    /// Restarts the process with `OPENBLAS_CORETYPE` set when OpenBLAS fell back to generic
    /// kernels on a CPU it does not know (see `BLASRuntime.recommendedCoreType`). Runs before any
    /// work; if the restart fails, the process simply continues with the slower kernels.
    static func selectBLASKernels() {
        guard getenv("OPENBLAS_CORETYPE") == nil, let core = BLAS.runtime.recommendedCoreType else { return }
        setenv("OPENBLAS_CORETYPE", core, 1)
        var argv: [UnsafeMutablePointer<CChar>?] = CommandLine.arguments.map { strdup($0) }
        argv.append(nil)
        execv("/proc/self/exe", &argv)
        // execv only returns on failure: carry on.
    }

    /// Resolves a `--threads` value: 0 or absent means every core.
    static func threads(_ requested: Int?) -> Int {
        guard let requested, requested > 0 else { return Parallel.availableCores }
        return requested
    }
}
