import Foundation
import ShortlistCore

/// The files a benchmark run leaves behind: results.csv (peers' column names), results.json (the
/// same rows with the machine and settings), summary.md (every point, then the Pareto frontier)
/// and recall-qps.svg.
public struct BenchmarkReport {
    /// What was measured on: recorded with every run.
    public struct Machine: Sendable {
        public var cpu: String
        public var cores: Int
        public var blas: String
        public var system: String

        public static func current() -> Machine {
            let cpuinfo = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
            let cpu = cpuinfo.split(separator: "\n").first { $0.hasPrefix("model name") }
                .map { String($0.split(separator: ":", maxSplits: 1).last ?? "").trimmingCharacters(in: .whitespaces) } ?? "unknown"
            let info = ProcessInfo.processInfo
            return Machine(cpu: cpu, cores: info.activeProcessorCount, blas: BLAS.runtime.summary,
                           system: "\(info.operatingSystemVersionString), \(info.physicalMemory >> 30) GiB")
        }
    }

    /// A point measured by another tool (`../shared/tools/peers` CSV rows).
    public struct PeerPoint: Sendable {
        public var algo: String
        public var params: String
        public var recall: Double
        public var singleQPS: Double
    }

    public var rows: [BenchmarkRow]
    public var peers: [PeerPoint]
    public var machine: Machine
    public var seed: UInt64
    public var k: Int

    public init(rows: [BenchmarkRow], peers: [PeerPoint] = [], machine: Machine = .current(), seed: UInt64, k: Int) {
        self.rows = rows
        self.peers = peers
        self.machine = machine
        self.seed = seed
        self.k = k
    }

    /// Reads the rows of a peers CSV file (header with at least algo, params, recall, single_qps).
    public static func readPeers(path: String) throws -> [PeerPoint] {
        let text = try String(contentsOfFile: path, encoding: .utf8)
        // Python's csv module ends lines with CRLF, a single Character in Swift.
        var lines = text.split(whereSeparator: \.isNewline).map(String.init)
        guard !lines.isEmpty else { return [] }
        let header = splitCSV(lines.removeFirst())
        guard let a = header.firstIndex(of: "algo"), let p = header.firstIndex(of: "params"),
              let r = header.firstIndex(of: "recall"), let q = header.firstIndex(of: "single_qps") else {
            throw BenchmarkError.badPeersFile(path: path, reason: "the header needs algo, params, recall and single_qps")
        }
        return try lines.enumerated().compactMap { i, line in
            let f = splitCSV(line)
            guard f.count == header.count else { throw BenchmarkError.badPeersFile(path: path, reason: "line \(i + 2) has \(f.count) fields, the header \(header.count)") }
            guard let recall = Double(f[r]), let qps = Double(f[q]) else { return nil }
            return PeerPoint(algo: f[a], params: f[p], recall: recall, singleQPS: qps)
        }
    }

    /// Splits one CSV line, honouring double-quoted fields.
    static func splitCSV(_ line: String) -> [String] {
        var fields: [String] = [], current = "", quoted = false
        for c in line {
            if c == "\"" { quoted.toggle() } else if c == "," && !quoted { fields.append(current); current = "" } else { current.append(c) }
        }
        fields.append(current)
        return fields
    }

    // MARK: Pareto frontier

    /// One point on a recall–speed chart.
    public struct Point: Sendable, Equatable {
        public var algo: String
        public var params: String
        public var recall: Double
        public var qps: Double
    }

    /// Points no other point beats on both recall and single-query QPS, by recall.
    public static func paretoFrontier(_ points: [Point]) -> [Point] {
        let sorted = points.sorted { $0.recall != $1.recall ? $0.recall > $1.recall : $0.qps > $1.qps }
        var frontier: [Point] = []
        var bestQPS = -Double.infinity
        for p in sorted where p.qps > bestQPS {
            frontier.append(p)
            bestQPS = p.qps
        }
        return frontier.reversed()
    }

    var allPoints: [Point] {
        rows.map { Point(algo: $0.algo, params: $0.params, recall: $0.recall, qps: $0.singleQPS) }
            + peers.map { Point(algo: $0.algo, params: $0.params, recall: $0.recall, qps: $0.singleQPS) }
    }

    // MARK: Files

    public func markdown() -> String {
        let threads = rows.first?.threads ?? 1
        var md = "Machine: \(machine.cpu), \(machine.cores) cores, \(machine.system); BLAS: \(machine.blas). Seed \(seed).\n\n"
        md += "| index | params | recall@\(k) | single q/s | p50 µs | p99 µs | batch q/s (\(threads) thr) | build s | MB resident | MB held | bytes/vector held |\n|---|---|---|---|---|---|---|---|---|---|---|\n"
        for r in rows {
            md += "| \(r.algo) | \(r.params) | \(String(format: "%.4f", r.recall)) | \(String(format: "%.0f", r.singleQPS)) | \(String(format: "%.0f", r.latencyP50Micros)) | \(String(format: "%.0f", r.latencyP99Micros)) | \(String(format: "%.0f", r.batchQPS)) | \(String(format: "%.2f", r.buildSeconds)) | \(String(format: "%.1f", r.indexResidentMB)) | \(String(format: "%.1f", r.indexMemoryMB)) | \(String(format: "%.0f", r.indexMemoryMB * 1_048_576 / Double(max(1, r.baseCount)))) |\n"
        }
        md += "\nPareto frontier (no other point has both higher recall@\(k) and more single-query q/s)\(peers.isEmpty ? "" : ", peers included"):\n\n"
        md += "| index | params | recall@\(k) | single q/s |\n|---|---|---|---|\n"
        for p in Self.paretoFrontier(allPoints) {
            md += "| \(p.algo) | \(p.params) | \(String(format: "%.4f", p.recall)) | \(String(format: "%.0f", p.qps)) |\n"
        }
        return md
    }

    public func json() throws -> Data {
        let columns = BenchmarkRow.csvHeader.split(separator: ",").map(String.init)
        let objects: [[String: Any]] = rows.map { r in
            let values = BenchmarkReport.splitCSV(r.csvLine)
            var o: [String: Any] = [:]
            for (c, v) in zip(columns, values) { o[c] = Double(v).map { $0 as Any } ?? v }
            return o
        }
        let root: [String: Any] = [
            "machine": ["cpu": machine.cpu, "cores": machine.cores, "blas": machine.blas, "system": machine.system],
            "seed": seed, "k": k, "rows": objects,
            "peers": peers.map { ["algo": $0.algo, "params": $0.params, "recall": $0.recall, "single_qps": $0.singleQPS] },
        ]
        return try JSONSerialization.data(withJSONObject: root, options: [.prettyPrinted, .sortedKeys])
    }

    public func plot(title: String) -> RecallPlot {
        let series = RecallPlot.group(rows.map { ($0.algo, $0.params, $0.recall, $0.singleQPS) }, isPeer: false)
            + RecallPlot.group(peers.map { ($0.algo, $0.params, $0.recall, $0.singleQPS) }, isPeer: true)
        var plot = RecallPlot(title: title, series: series)
        plot.xLabel = "recall@\(k)"
        return plot
    }

    /// Writes results.csv, results.json, summary.md and recall-qps.svg into `directory`.
    public func write(to directory: String, title: String) throws {
        let csv = ([BenchmarkRow.csvHeader] + rows.map(\.csvLine)).joined(separator: "\n") + "\n"
        try Data(csv.utf8).write(to: URL(fileURLWithPath: directory + "/results.csv"))
        try json().write(to: URL(fileURLWithPath: directory + "/results.json"))
        try Data(markdown().utf8).write(to: URL(fileURLWithPath: directory + "/summary.md"))
        try Data(plot(title: title).svg().utf8).write(to: URL(fileURLWithPath: directory + "/recall-qps.svg"))
    }
}

public enum BenchmarkError: Error, CustomStringConvertible {
    case badPeersFile(path: String, reason: String)
    case badSweepFile(path: String, reason: String)

    public var description: String {
        switch self {
        case let .badPeersFile(path, reason): return "\(path): \(reason)"
        case let .badSweepFile(path, reason): return "\(path): \(reason)"
        }
    }
}
