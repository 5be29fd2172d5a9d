import Foundation

/// The `stats` numbers in the Prometheus text exposition format (version 0.0.4).
enum PrometheusFormat {
    static func render(_ processor: RequestProcessor) -> String {
        let s = processor.stats.snapshot()
        var out = ""
        func metric(_ name: String, _ type: String, _ help: String) {
            out += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n"
        }
        func escape(_ v: String) -> String {
            v.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"").replacingOccurrences(of: "\n", with: "\\n")
        }
        let ops = s.ops.keys.sorted()
        metric("shortlist_requests_total", "counter", "Requests answered, by op (\"invalid\" when the line had no valid op).")
        for op in ops { out += "shortlist_requests_total{op=\"\(escape(op))\"} \(s.ops[op]!.requests)\n" }
        metric("shortlist_request_errors_total", "counter", "Requests answered with an error, by op.")
        for op in ops { out += "shortlist_request_errors_total{op=\"\(escape(op))\"} \(s.ops[op]!.errors)\n" }
        metric("shortlist_errors_total", "counter", "Error replies by code, including those outside any request.")
        for code in s.errorsByCode.keys.sorted() { out += "shortlist_errors_total{code=\"\(code)\"} \(s.errorsByCode[code]!)\n" }
        metric("shortlist_request_duration_seconds", "summary", "Time from a line being read to its reply being encoded, by op.")
        for op in ops {
            let h = s.ops[op]!.latency
            for q in [0.5, 0.9, 0.99, 0.999] {
                out += "shortlist_request_duration_seconds{op=\"\(escape(op))\",quantile=\"\(q)\"} \(Double(h.value(atQuantile: q)) / 1e9)\n"
            }
            out += "shortlist_request_duration_seconds_sum{op=\"\(escape(op))\"} \(Double(h.sum) / 1e9)\n"
            out += "shortlist_request_duration_seconds_count{op=\"\(escape(op))\"} \(h.count)\n"
        }
        metric("shortlist_connections_open", "gauge", "Open client connections.")
        out += "shortlist_connections_open \(s.connectionsOpen)\n"
        metric("shortlist_connections_total", "counter", "Client connections accepted.")
        out += "shortlist_connections_total \(s.connectionsTotal)\n"
        metric("shortlist_connections_refused_total", "counter", "Connections refused over the limit.")
        out += "shortlist_connections_refused_total \(s.connectionsRefused)\n"
        metric("shortlist_pending_requests", "gauge", "Requests queued or running on the workers.")
        out += "shortlist_pending_requests \(processor.pendingWork())\n"
        metric("shortlist_resident_memory_bytes", "gauge", "Resident set size of the server process.")
        out += "shortlist_resident_memory_bytes \(s.residentBytes)\n"
        metric("shortlist_uptime_seconds", "gauge", "Seconds since the server started.")
        out += "shortlist_uptime_seconds \(s.uptimeSeconds)\n"
        metric("shortlist_collection_vectors", "gauge", "Live vectors per collection.")
        for name in processor.collectionOrder { out += "shortlist_collection_vectors{collection=\"\(escape(name))\"} \(processor.collections[name]!.count)\n" }
        metric("shortlist_collection_dirty", "gauge", "1 when a collection has changes not yet saved.")
        for name in processor.collectionOrder { out += "shortlist_collection_dirty{collection=\"\(escape(name))\"} \(processor.collections[name]!.isDirty ? 1 : 0)\n" }
        return out
    }
}
