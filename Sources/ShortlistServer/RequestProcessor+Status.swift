import ShortlistCore
import ShortlistProtocol

/// The results of `info` and `stats`.
extension RequestProcessor {
    func encodeInfo(_ o: inout JSONOutput) {
        o.raw("{\"version\":"); o.string(ServerVersion.string)
        o.raw(",\"workers\":"); o.int(workerCount)
        o.raw(",\"collections\":[")
        for (i, name) in collectionOrder.enumerated() {
            let c = collections[name]!
            if i > 0 { o.comma() }
            o.raw("{\"name\":"); o.string(name)
            o.raw(",\"kind\":"); o.string(c.kind)
            o.raw(",\"metric\":"); o.string(c.metric.rawValue)
            o.raw(",\"dimension\":"); o.int(c.dimension)
            o.raw(",\"count\":"); o.int(c.count)
            o.raw(",\"deleted_rows\":"); o.int(c.deadRows)
            o.raw(",\"spec\":"); o.string(c.spec)
            o.raw(",\"payloads\":"); o.int(c.payloadCount)
            o.raw(",\"payload_fields\":{")
            for (j, (field, f)) in c.payloadFields.sorted(by: { $0.key < $1.key }).enumerated() {
                if j > 0 { o.comma() }
                o.string(field)
                o.raw(":{\"type\":"); o.string(f.type)
                o.raw(",\"items\":"); o.int(f.items)
                o.raw(",\"values\":"); o.int(f.values)
                o.raw("}")
            }
            o.raw("}")
            o.raw(",\"recommend\":"); o.bool(c.recommender != nil)
            if let m = c.recommender {
                o.raw(",\"model\":{\"history\":"); o.int(m.historyLength)
                o.raw(",\"user_features\":"); o.stringArray(m.inputs.user)
                o.raw(",\"context\":"); o.stringArray(m.inputs.context)
                o.raw(",\"item_features\":"); o.stringArray(m.inputs.item)
                o.raw(",\"unseen_users\":"); o.bool(m.embedsUnseenUsers)
                o.raw(",\"upsert_features\":"); o.bool(m.embedsItems)
                o.raw(",\"seen_sets\":"); o.bool(m.hasSeenSets)
                o.raw("}")
            }
            o.raw(",\"tuned\":"); o.bool(c.tuning != nil)
            o.raw("}")
        }
        o.raw("],\"limits\":{\"max_line_bytes\":"); o.int(limits.maximumLineBytes)
        o.raw(",\"max_k\":"); o.int(limits.maximumK)
        o.raw(",\"max_ef\":"); o.int(limits.maximumEf)
        o.raw(",\"max_nprobe\":"); o.int(limits.maximumNprobe)
        o.raw(",\"max_batch\":"); o.int(limits.maximumBatch)
        o.raw(",\"max_items\":"); o.int(limits.maximumItems)
        o.raw(",\"max_connections\":"); o.int(limits.maximumConnections)
        o.raw(",\"idle_timeout_s\":"); o.int(limits.idleTimeoutSeconds)
        o.raw(",\"max_results\":"); o.int(limits.maximumResultsPerRequest)
        o.raw(",\"max_reply_bytes\":"); o.int(limits.maximumReplyBytes)
        o.raw(",\"output_pause_bytes\":"); o.int(limits.outputPauseBytes)
        o.raw(",\"max_output_bytes\":"); o.int(limits.maximumOutputBytes)
        o.raw(",\"auth_timeout_s\":"); o.int(limits.authTimeoutSeconds)
        o.raw(",\"line_timeout_s\":"); o.int(limits.lineTimeoutSeconds)
        o.raw(",\"max_unauthenticated\":"); o.int(limits.maximumUnauthenticatedConnections)
        o.raw("}}")
    }

    func encodeStats(_ o: inout JSONOutput) {
        let s = stats.snapshot()
        o.raw("{\"uptime_s\":"); o.double((s.uptimeSeconds * 1000).rounded() / 1000)
        o.raw(",\"connections\":{\"open\":"); o.int(s.connectionsOpen)
        o.raw(",\"total\":"); o.uint(s.connectionsTotal)
        o.raw(",\"refused\":"); o.uint(s.connectionsRefused)
        o.raw(",\"unauthenticated\":"); o.int(pendingAuthentication?.count ?? 0)
        o.raw(",\"dropped_requests\":"); o.uint(stats.droppedForClosedConnections.load(ordering: .relaxed))
        o.raw("},\"memory\":{\"resident_bytes\":"); o.int(s.residentBytes)
        o.raw("},\"pending\":"); o.int(pendingWork())
        o.raw(",\"ops\":{")
        for (i, name) in s.ops.keys.sorted().enumerated() {
            let r = s.ops[name]!
            if i > 0 { o.comma() }
            o.string(name)
            o.raw(":{\"count\":"); o.uint(r.requests)
            o.raw(",\"errors\":"); o.uint(r.errors)
            o.raw(",\"mean_us\":"); o.double((r.latency.mean / 10).rounded() / 100)
            for (key, q) in [("p50_us", 0.5), ("p90_us", 0.9), ("p99_us", 0.99), ("p999_us", 0.999)] {
                o.raw(","); o.string(key); o.raw(":"); o.double(Double(r.latency.value(atQuantile: q) / 10) / 100)
            }
            o.raw("}")
        }
        o.raw("},\"errors\":{")
        for (i, code) in s.errorsByCode.keys.sorted().enumerated() {
            if i > 0 { o.comma() }
            o.string(code); o.raw(":"); o.uint(s.errorsByCode[code]!)
        }
        o.raw("},\"collections\":{")
        for (i, name) in collectionOrder.enumerated() {
            let c = collections[name]!
            if i > 0 { o.comma() }
            o.string(name)
            o.raw(":{\"count\":"); o.int(c.count)
            o.raw(",\"memory_bytes\":"); o.int(c.memoryBytes)
            o.raw(",\"log_bytes\":"); o.int(c.logBytes)
            o.raw(",\"dirty\":"); o.bool(c.isDirty)
            let snap = c.snapshots
            o.raw(",\"snapshots\":{\"completed\":"); o.int(snap.completed)
            o.raw(",\"failed\":"); o.int(snap.failed)
            o.raw(",\"last_copy_ms\":"); o.double((snap.lastCopyMilliseconds * 1000).rounded() / 1000)
            o.raw(",\"last_total_ms\":"); o.double((snap.lastTotalMilliseconds * 1000).rounded() / 1000)
            o.raw(",\"last_error\":"); if let e = snap.lastError { o.string(e) } else { o.raw("null") }
            let compaction = c.compactions
            o.raw("},\"deleted_rows\":"); o.int(c.deadRows)
            o.raw(",\"compactions\":{\"completed\":"); o.int(compaction.completed)
            o.raw(",\"running\":"); o.bool(compaction.running)
            o.raw(",\"last_ms\":"); o.double((compaction.lastMilliseconds * 1000).rounded() / 1000)
            o.raw(",\"last_error\":"); if let e = compaction.lastError { o.string(e) } else { o.raw("null") }
            o.raw("}")
            if c.log != nil {
                // Where the log stands, and on a cluster primary, what each replica confirmed.
                o.raw(",\"log_position\":"); o.position(c.logPosition)
                if let shipper = c.shipper {
                    o.raw(",\"replicas\":{")
                    for (j, (address, lsn)) in shipper.confirmed.sorted(by: { $0.key < $1.key }).enumerated() {
                        if j > 0 { o.comma() }
                        o.string(address); o.raw(":{\"confirmed_lsn\":"); o.uint(lsn); o.raw("}")
                    }
                    o.raw("}")
                }
            }
            o.raw("}")
        }
        o.raw("}}")
    }
}
