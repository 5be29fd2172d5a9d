import ArgumentParser
import Foundation
import ShortlistBench

struct PlotCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plot",
        abstract: "Draw recall-versus-QPS as SVG from results CSV files (ours and peers').",
        usage: "shortlist plot --results <csv> ... --output <svg> [<options>]",
        discussion: """
        Reads CSV rows with the columns algo, params, recall and single_qps (what `shortlist bench` \
        and ../shared/tools/peers write) and draws one line per algo: --results solid, --compare \
        dashed; rows that differ in more than the swept knob (ef, nprobe) get their own line. \
        `shortlist bench` already writes recall-qps.svg; this redraws or combines runs.

        Example:
          shortlist plot --results bench/out/run/results.csv --compare peers.csv \\
              --title "WordNet-MiniLM" --output plot.svg
        """
    )

    @Option(help: "Results CSV drawn as solid lines (repeatable).") var results: [String]
    @Option(help: "Results CSV drawn dashed, as peers (repeatable).") var compare: [String] = []
    @Option(help: "Chart title.") var title = "recall@10 against single-query speed"
    @Option(help: "Neighbours the recall is measured at (axis label).") var k = 10
    @Option(help: "Start the recall axis here (e.g. 0.8), to look closely at the high-recall end; points below are left out of the frame.")
    var minRecall: Double?
    @Option(help: "The SVG file to write.") var output: String

    func run() throws {
        guard !results.isEmpty else { throw ValidationError("give at least one --results file") }
        var series: [RecallPlot.Series] = []
        for (files, peer) in [(results, false), (compare, true)] {
            let points = try files.flatMap { try BenchmarkReport.readPeers(path: $0) }
            series += RecallPlot.group(points.map { ($0.algo, $0.params, $0.recall, $0.singleQPS) }, isPeer: peer)
        }
        var plot = RecallPlot(title: title, series: series)
        plot.xLabel = "recall@\(k)"
        if let minRecall {
            guard (0..<1).contains(minRecall) else { throw ValidationError("--min-recall must be in [0, 1)") }
            plot.minRecall = minRecall
        }
        try Data(plot.svg().utf8).write(to: URL(fileURLWithPath: output))
        print("wrote \(output): \(series.count) series")
    }
}
