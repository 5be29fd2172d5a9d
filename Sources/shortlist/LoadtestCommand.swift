import ArgumentParser
import Foundation
import ShortlistCore
import ShortlistBench
import ShortlistProtocol
import ShortlistData
import ShortlistIndex
import ShortlistServer

struct LoadtestCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "loadtest",
        abstract: "Drive a running server with searches (or pings) and report throughput and latency percentiles.",
        discussion: """
        Each connection keeps --pipeline requests in flight, cycling through the query file; the \
        connections are driven by --client-threads threads polling their sockets. Latency is the client's round trip; the server's own \
        took_us is reported beside it, and their difference is the protocol overhead (parsing, \
        queueing, encoding, loopback). Percentiles come from log-linear histograms (HdrHistogram \
        style, 1.6% resolution).

        Examples:
          shortlist loadtest --collection items --queries queries.fvecs \\
              --connections 2 --duration 10 --ef 64
          shortlist loadtest --op ping --connections 1 --duration 5
        """
    )

    @Option(help: "Server address.")
    var host = "127.0.0.1"

    @Option(help: "Server port.")
    var port = 7700

    @Option(help: "Collection to search.")
    var collection: String?

    @Option(help: "Query vectors (.fvecs, .npy, …), sent in turn.")
    var queries: String?

    @Option(help: "search, upsert (each query vector becomes a point with id 10^9 + row), or ping.")
    var op = "search"

    @Option(help: "Connections.")
    var connections = 1

    @Option(name: .customLong("client-threads"), help: "Client threads polling the connections (one by default, so the generator takes little CPU from a server on the same machine).")
    var clientThreads = 1

    @Flag(name: .customLong("busy-poll"), help: "Client threads spin on their sockets instead of sleeping, so replies are seen without a scheduler wake-up (shows the server's turnaround; costs a core per client thread).")
    var busyPoll = false

    @Option(name: .customLong("vector-encoding"), help: "How vectors are sent: json (arrays of decimal numbers) or base64 (strings of little-endian float32: exact, half the bytes, read ~40× faster).")
    var vectorEncoding: VectorEncoding = .json

    @Option(help: "Seconds to measure (after --warmup).")
    var duration = 10.0

    @Option(help: "Seconds of load before measuring.")
    var warmup = 1.0

    @Option(help: "Requests kept in flight per connection.")
    var pipeline = 1

    @Option(help: "Neighbours per query.")
    var k = 10

    @Option(help: "HNSW ef sent with each search.")
    var ef: Int?

    @Option(help: "IVF nprobe sent with each search.")
    var nprobe: Int?

    @Option(help: "IVF rerank sent with each search.")
    var rerank: Int?

    @Option(name: .customLong("auth-token-file"), help: "Authenticate each connection with the token in this file.")
    var authTokenFile: String?

    @Option(name: .customLong("compare-index"), help: "The index the server's collection was loaded from: also measure single-thread in-process search QPS (same queries and knobs), and the same requests through the protocol code without the network, and report the server's throughput as a ratio of the in-process QPS × cores.")
    var compareIndex: String?

    @Option(help: "With --compare-index: alternate the in-process measurement and the load this many times (each round measures in process for about half of --duration, then loads the server for --duration) and report the median of the rounds' ratios, so that a noisy host's drift hits both sides of each ratio alike.")
    var rounds = 1

    @Option(help: "Also write the report as JSON here.")
    var json: String?

    func validate() throws {
        guard ["search", "upsert", "ping"].contains(op) else { throw ValidationError("--op is search, upsert or ping") }
        if op != "ping" { guard collection != nil, queries != nil else { throw ValidationError("\(op) needs --collection and --queries") } }
        guard (1...100).contains(rounds) else { throw ValidationError("--rounds must be in 1...100") }
        guard connections >= 1, pipeline >= 1, clientThreads >= 1, duration > 0, warmup >= 0 else {
            throw ValidationError("--connections, --pipeline and --client-threads ≥ 1, --duration > 0")
        }
    }

    func run() throws {
        var c = LoadTest.Configuration()
        c.host = host
        c.port = port
        c.connections = connections
        c.pipeline = pipeline
        c.threads = clientThreads
        c.busyPoll = busyPoll
        c.duration = duration
        c.warmup = warmup
        c.vectorEncoding = vectorEncoding == .base64 ? .base64 : .decimal
        if let authTokenFile { c.token = try TokenFile.read(authTokenFile) }
        let options = QueryOptions(k: k, parameters: SearchParameters(ef: ef, nprobe: nprobe, rerank: rerank))
        var matrix: VectorMatrix?
        if op == "ping" {
            c.requests = [.ping]
        } else {
            let m = try VectorFile.read(path: queries!).matrix
            matrix = m
            c.requests = (0..<m.count).map { r in
                op == "upsert"
                    ? .upsert(collection: collection!, points: [Request.Point(id: 1_000_000_000 + UInt64(r), vector: m.rowArray(r))])
                    : .search(.init(collection: collection!, vector: m.rowArray(r), query: options))
            }
        }
        var baseline: InProcessBaseline?
        if let compareIndex, let matrix, op == "search" {
            Runtime.prepare()
            baseline = try InProcessBaseline(indexPath: compareIndex, queries: matrix, options: options, vectorEncoding: c.vectorEncoding)
        }
        let cores = Parallel.availableCores
        let measureSeconds = min(duration, 5)
        let protocolQPS = baseline.map { b in b.protocolQPS(seconds: measureSeconds) }
        var searchRates: [Double] = [], ratios: [Double] = []
        var total: LoadTest.Report?
        for _ in 0..<(baseline == nil ? 1 : rounds) {
            if let baseline {
                searchRates.append(try baseline.searchQPS(seconds: rounds > 1 ? measureSeconds / 2 : measureSeconds))
            }
            let r = try LoadTest.run(c)
            if let single = searchRates.last { ratios.append(r.throughput / (single * Double(cores))) }
            total = total.map { $0.merged(with: r) } ?? r
        }
        let median: ([Double]) -> Double? = { v in v.isEmpty ? nil : v.sorted()[v.count / 2] }
        let inProcess = median(searchRates).map { (searchQPS: $0, processorQPS: protocolQPS ?? 0) }
        let ratio = median(ratios)
        let report = total!
        func us(_ h: LatencyHistogram, _ q: Double) -> Double { Double(h.value(atQuantile: q)) / 1000 }
        print(String(format: "%@ × %d connection%@, pipeline %d, %.1f s: %d requests, %.0f requests/s, %d errors",
                     op, connections, connections == 1 ? "" : "s", pipeline, report.seconds, report.requests, report.throughput, report.errors))
        print(String(format: "round trip  µs: p50 %.1f  p90 %.1f  p99 %.1f  p99.9 %.1f  max %.1f  mean %.1f",
                     us(report.latency, 0.5), us(report.latency, 0.9), us(report.latency, 0.99), us(report.latency, 0.999),
                     Double(report.latency.maximum) / 1000, report.latency.mean / 1000))
        if report.serverTime.count > 0 {
            print(String(format: "server took µs: p50 %.1f  p90 %.1f  p99 %.1f  p99.9 %.1f  mean %.1f",
                         us(report.serverTime, 0.5), us(report.serverTime, 0.9), us(report.serverTime, 0.99), us(report.serverTime, 0.999),
                         report.serverTime.mean / 1000))
            print(String(format: "overhead (round trip − took_us), mean: %.1f µs per request", (report.latency.mean - report.serverTime.mean) / 1000))
        }
        if let e = report.firstError { print("first error: \(e)") }
        if let inProcess, let ratio {
            print(String(format: "in process, 1 thread: index.search %.0f queries/s%@; protocol code without network %.0f requests/s (%.1f µs of parsing and encoding per request)",
                         inProcess.searchQPS, rounds > 1 ? " (median of \(rounds) rounds)" : "", inProcess.processorQPS,
                         (1 / inProcess.processorQPS - 1 / inProcess.searchQPS) * 1e6))
            if rounds > 1 {
                print("rounds: " + zip(ratios, searchRates).map { String(format: "%.2f (in process %.0f q/s)", $0, $1) }.joined(separator: ", "))
            }
            print(String(format: "server throughput / (in-process single-thread QPS × %d cores) = %.2f%@", cores, ratio,
                         rounds > 1 ? " (median of the rounds' ratios)" : ""))
        }
        if let json {
            var fields: [String: Any] = [
                "op": op, "connections": connections, "pipeline": pipeline, "duration_s": duration,
                "requests": report.requests, "errors": report.errors, "throughput": report.throughput,
                "rtt_mean_us": report.latency.mean / 1000,
            ]
            for (name, q) in [("p50", 0.5), ("p90", 0.9), ("p99", 0.99), ("p999", 0.999)] {
                fields["rtt_\(name)_us"] = us(report.latency, q)
                if report.serverTime.count > 0 { fields["took_\(name)_us"] = us(report.serverTime, q) }
            }
            if report.serverTime.count > 0 { fields["took_mean_us"] = report.serverTime.mean / 1000 }
            if let inProcess, let ratio {
                fields["in_process_search_qps"] = inProcess.searchQPS
                fields["in_process_protocol_qps"] = inProcess.processorQPS
                fields["ratio_to_in_process_times_cores"] = ratio
                fields["round_ratios"] = ratios
                fields["round_in_process_search_qps"] = searchRates
            }
            try JSONSerialization.data(withJSONObject: fields, options: [.sortedKeys]).write(to: URL(fileURLWithPath: json))
        }
        if report.errors > 0 { throw ExitCode(1) }
    }
}
