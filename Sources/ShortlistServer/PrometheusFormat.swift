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
        let scalars: [(String, String, String, String)] = [
            ("shortlist_connections_open", "gauge", "Open client connections.", "\(s.connectionsOpen)"),
            ("shortlist_connections_total", "counter", "Client connections accepted.", "\(s.connectionsTotal)"),
            ("shortlist_connections_refused_total", "counter", "Connections refused over the limit.", "\(s.connectionsRefused)"),
            ("shortlist_pending_requests", "gauge", "Requests queued or running on the workers.", "\(processor.pendingWork())"),
            ("shortlist_resident_memory_bytes", "gauge", "Resident set size of the server process.", "\(s.residentBytes)"),
            ("shortlist_uptime_seconds", "gauge", "Seconds since the server started.", "\(s.uptimeSeconds)"),
        ]
        for (name, type, help, value) in scalars {
            metric(name, type, help)
            out += "\(name) \(value)\n"
        }
        let perCollection: [(String, String, (ServedCollection) -> String)] = [
            ("shortlist_collection_vectors", "Live vectors per collection.", { "\($0.count)" }),
            ("shortlist_collection_log_bytes", "Bytes in each collection's write-ahead log.", { "\($0.logBytes)" }),
            ("shortlist_collection_dirty", "1 when a collection has changes not yet saved.", { $0.isDirty ? "1" : "0" }),
        ]
        for (name, help, value) in perCollection {
            metric(name, "gauge", help)
            for c in processor.collectionOrder.map({ processor.collections[$0]! }) {
                out += "\(name){collection=\"\(escape(c.name))\"} \(value(c))\n"
            }
        }
        return out
    }
}
