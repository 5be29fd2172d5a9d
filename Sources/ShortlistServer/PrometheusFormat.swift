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
        out += processMetrics(residentBytes: s.residentBytes)
        return out + processor.stats.registry.emitToString()
    }

    /// The standard process metrics (names as Prometheus's own clients emit them), from /proc;
    /// resident memory is the snapshot's (read once per scrape).
    static func processMetrics(residentBytes: Int) -> String {
        var out = ""
        func add(_ name: String, _ type: String, _ help: String, _ value: Double?) {
            guard let value else { return }
            out += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n\(name) \(value)\n"
        }
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        // /proc/self/stat: fields after the parenthesised command name; utime, stime are 14 and 15,
        // starttime 22, vsize 23 (1-based, in the whole line).
        let stat = (try? String(contentsOfFile: "/proc/self/stat", encoding: .utf8)).flatMap { text -> [Substring]? in
            guard let close = text.lastIndex(of: ")") else { return nil }
            return text[text.index(after: close)...].split(separator: " ")
        } ?? []
        func field(_ n: Int) -> Double? { n - 3 < stat.count ? Double(stat[n - 3]) : nil }
        let uptime = (try? String(contentsOfFile: "/proc/uptime", encoding: .utf8))?.split(separator: " ").first.flatMap { Double($0) }
        let bootTime = uptime.map { Date().timeIntervalSince1970 - $0 }
        add("process_cpu_seconds_total", "counter", "User and system CPU time spent, in seconds.",
            field(14).flatMap { u in field(15).map { (u + $0) / ticks } })
        add("process_resident_memory_bytes", "gauge", "Resident memory size in bytes.", Double(residentBytes))
        add("process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.", field(23))
        add("process_start_time_seconds", "gauge", "Start time of the process since the Unix epoch, in seconds.",
            bootTime.flatMap { boot in field(22).map { boot + $0 / ticks } })
        let fds = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")).map { Double($0.count) }
        add("process_open_fds", "gauge", "Open file descriptors.", fds)
        var limit = rlimit()
        add("process_max_fds", "gauge", "The limit of open file descriptors.", getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 ? Double(limit.rlim_cur) : nil)
        return out
    }
}
