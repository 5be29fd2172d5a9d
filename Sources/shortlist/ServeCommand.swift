import ArgumentParser
import Foundation
import Logging
import ShortlistCore
import ShortlistProtocol
import ShortlistServer

struct ServeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Answer top-k queries over line-delimited JSON on TCP (docs/protocol.md).",
        discussion: """
        Each --collection is NAME=INDEX[,payloads=FILE][,model=DIR]: an index file, its payloads \
        (JSON lines {"id":…,"payload":{…}}; default INDEX.payloads.jsonl when it exists) and a \
        model folder from `shortlist train` (enables the recommend op). --data-dir serves every \
        *.idx in a folder, named after the file. Every upsert and delete is appended to INDEX.wal \
        and synced (--fsync) before its reply; at start the log is replayed over the index, and \
        `save` (or a log past --snapshot-wal-mb) writes a new index file and empties it. SIGINT or \
        SIGTERM stops the server gracefully: in-flight requests finish and changed collections \
        are saved.

        Examples:
          shortlist serve --collection items=index-data/items.idx
          shortlist serve --collection movies=movies/items.idx,model=movies --port 7700
          echo '{"op":"ping"}' | nc -q1 127.0.0.1 7700
        """
    )

    @Option(name: .customLong("log-level"), help: "Least severe log messages written to standard error: trace, debug, info, notice, warning, error or critical.")
    var logLevel: Logger.Level = .info

    @Option(name: .customLong("log-format"), help: "Log lines as text, or as one JSON object per line (ts, level, label, msg, then metadata) for log collectors.")
    var logFormat: ServerLogHandler.Format = .text

    @Option(name: .customLong("collection"), help: "NAME=INDEX[,payloads=FILE][,model=DIR] (repeatable).")
    var collections: [String] = []

    @Option(name: .customLong("data-dir"), help: "Serve every *.idx file in this folder (named after the file).")
    var dataDirectory: String?

    @Option(help: "Address to listen on. A non-loopback address needs --auth-token-file or --insecure.")
    var host = "127.0.0.1"

    @Option(help: "Port to listen on (0: any free port, printed at start).")
    var port = 7700

    @Option(name: .customLong("metrics-port"), help: "Also serve HTTP on this port: Prometheus metrics (GET /metrics, latency histograms and process metrics), GET /healthz and GET /readyz (503 once a shutdown begins).")
    var metricsPort: Int?

    @Option(name: .customLong("auth-token-file"), help: "File whose first line is the shared secret clients must send first ({\"op\":\"auth\",\"token\":…}).")
    var authTokenFile: String?

    @Flag(help: "Allow a non-loopback --host without an auth token.")
    var insecure = false

    @Option(help: "Worker threads for searches and writes (default: one per core).")
    var workers: Int?

    @Option(help: "When a write's reply waits for the disk: always (every reply waits for its write-ahead log record to be synced; concurrent writers share syncs), batch (a sync every 10 ms; replies do not wait) or never (the OS decides).")
    var fsync: WriteAheadLog.SyncMode = .always

    @Flag(name: .customLong("no-group-commit"), help: "With --fsync always, make every write sync on its own instead of sharing syncs with concurrent writers (slower; for measuring what group commit gains).")
    var noGroupCommit = false

    @Option(name: .customLong("snapshot-wal-mb"), help: "Save a collection (new index file, empty log) once its write-ahead log passes this many MiB.")
    var snapshotWalMB = 64

    @Option(name: .customLong("worker-spin-us"), help: "Microseconds an idle worker keeps checking for work before sleeping (0: sleep at once). Keeps cores and caches warm under load; costs that much CPU after each burst.")
    var workerSpin = 200

    @Flag(name: .customLong("no-micro-batch"), help: "Run every search on its own. By default, plain searches on flat and IVF collections that a worker takes from the queue together run as one batch search (one matrix product against a flat index).")
    var noMicroBatch = false

    @Option(name: .customLong("cluster"), help: "Join a cluster coordinated by etcd as a server of one shard, given as key=value pairs joined by commas: etcd=URL, collection=C, shard=S, shards=N, and optionally name=NAME and lease=SECONDS. The server registers under a lease, takes part in its shard's election (the newest log wins), and refuses writes with not_primary unless it is the primary; the primary ships its write-ahead log to the shard's other servers (docs/cluster.md).")
    var cluster: String?

    @Option(name: .customLong("ack-replicas"), help: "With --cluster: replicas that must have a write durable before the primary acknowledges it (0: ship in the background, acknowledge at once).")
    var ackReplicas = 0

    @Option(name: .customLong("ack-timeout"), help: "With --cluster: seconds a write waits for --ack-replicas replicas before it fails with not_replicated.")
    var ackTimeout = 5.0

    @Option(name: .customLong("replication-backlog-mb"), help: "With --cluster: MiB of the newest log records kept in memory; a replica further behind gets a snapshot.")
    var replicationBacklogMB = 64

    @Option(name: .customLong("advertise"), help: "With --cluster: host:port clients reach this server at (default: --host and the listening port).")
    var advertise: String?

    @Option(name: .customLong("loop-spin-us"), help: "Microseconds the event loop keeps polling its sockets after traffic, while no search runs, before sleeping (0: sleep at once). Saves a client that waits for each reply the wake-up of an idle core; costs up to a core for that long after each request.")
    var loopSpin = 0

    @Option(name: .customLong("max-line-bytes"), help: "Longest request line, in bytes (4194304: 4 MiB).")
    var maxLineBytes = ServerLimits().maximumLineBytes

    @Option(name: .customLong("max-k"), help: "Largest k.")
    var maxK = ServerLimits().maximumK

    @Option(name: .customLong("max-ef"), help: "Largest ef.")
    var maxEf = ServerLimits().maximumEf

    @Option(name: .customLong("max-batch"), help: "Most vectors per search_batch.")
    var maxBatch = ServerLimits().maximumBatch

    @Option(name: .customLong("max-connections"), help: "Most open connections.")
    var maxConnections = ServerLimits().maximumConnections

    @Option(name: .customLong("idle-timeout"), help: "Seconds before a silent connection is closed (0: never).")
    var idleTimeout = ServerLimits().idleTimeoutSeconds

    @Option(name: .customLong("max-results"), help: "Most hits one request may ask for, k × vectors of a search_batch.")
    var maxResults = ServerLimits().maximumResultsPerRequest

    @Option(name: .customLong("max-reply-mb"), help: "Longest reply in MiB; a longer one gets limit_exceeded.")
    var maxReplyMB = ServerLimits().maximumReplyBytes >> 20

    @Option(name: .customLong("output-pause-kb"), help: "Unsent reply KiB of one connection past which its requests are not read until the client reads.")
    var outputPauseKB = ServerLimits().outputPauseBytes >> 10

    @Option(name: .customLong("max-output-mb"), help: "Unsent reply MiB of one connection past which it is closed.")
    var maxOutputMB = ServerLimits().maximumOutputBytes >> 20

    @Option(name: .customLong("auth-timeout"), help: "Seconds a connection has to authenticate when auth is on (0: no deadline).")
    var authTimeout = ServerLimits().authTimeoutSeconds

    @Option(name: .customLong("line-timeout"), help: "Seconds a request line may take to arrive after its first byte (0: no deadline).")
    var lineTimeout = ServerLimits().lineTimeoutSeconds

    @Option(name: .customLong("max-unauthenticated"), help: "Most connections waiting to authenticate when auth is on.")
    var maxUnauthenticated = ServerLimits().maximumUnauthenticatedConnections

    func validate() throws {
        guard maxResults >= 1, maxReplyMB >= 1, outputPauseKB >= 1, maxOutputMB >= 1, maxUnauthenticated >= 1 else {
            throw ValidationError("--max-results, --max-reply-mb, --output-pause-kb, --max-output-mb and --max-unauthenticated must be at least 1")
        }
        guard authTimeout >= 0, lineTimeout >= 0 else { throw ValidationError("--auth-timeout and --line-timeout must be 0 or more") }
        guard maxOutputMB << 10 > outputPauseKB else { throw ValidationError("--max-output-mb must be more than --output-pause-kb") }
        guard !collections.isEmpty || dataDirectory != nil else { throw ValidationError("give at least one --collection or --data-dir") }
        guard (0...65535).contains(port) else { throw ValidationError("--port must be in 0...65535") }
        if let metricsPort, !(0...65535).contains(metricsPort) { throw ValidationError("--metrics-port must be in 0...65535") }
        guard maxLineBytes >= 1024 else { throw ValidationError("--max-line-bytes must be at least 1024") }
        guard maxK >= 1, maxEf >= 1, maxBatch >= 1, maxConnections >= 1, idleTimeout >= 0 else {
            throw ValidationError("limits must be positive (--idle-timeout may be 0)")
        }
        if let workers, workers < 1 { throw ValidationError("--workers must be at least 1") }
        guard snapshotWalMB >= 1 else { throw ValidationError("--snapshot-wal-mb must be at least 1") }
        guard (0...100_000).contains(workerSpin) else { throw ValidationError("--worker-spin-us must be in 0...100000") }
        guard (0...100_000).contains(loopSpin) else { throw ValidationError("--loop-spin-us must be in 0...100000") }
        guard (0...64).contains(ackReplicas) else { throw ValidationError("--ack-replicas must be in 0...64") }
        guard ackTimeout > 0, ackTimeout <= 3_600 else { throw ValidationError("--ack-timeout must be more than 0 and at most 3600 seconds") }
        guard replicationBacklogMB >= 1 else { throw ValidationError("--replication-backlog-mb must be at least 1") }
        if cluster == nil && ackReplicas > 0 { throw ValidationError("--ack-replicas needs --cluster") }
    }

    func run() throws {
        let level = logLevel, format = logFormat
        LoggingSystem.bootstrap { ServerLogHandler(label: $0, level: level, format: format) }
        let log = Logger(label: "shortlist")
        Runtime.prepare(verbose: true, log: log)
        var descriptions = try collections.map { try ServedCollection.Description(parsing: $0) }
        if let dir = dataDirectory {
            let files = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasSuffix(".idx") }.sorted()
            guard !files.isEmpty || !descriptions.isEmpty else { throw ValidationError("no *.idx files in \(dir)") }
            for f in files {
                descriptions.append(ServedCollection.Description(name: String(f.dropLast(4)), indexPath: (dir as NSString).appendingPathComponent(f)))
            }
        }
        var loaded: [ServedCollection] = []
        let clusterConfiguration = try cluster.map { try ClusterMember.Configuration(parsing: $0, advertise: advertise ?? "\(host):\(port)") }
        for d in descriptions {
            let watch = Stopwatch()
            let replicated = clusterConfiguration?.collection == d.name
            let c = try ServedCollection(d, durability: fsync, groupCommit: !noGroupCommit, snapshotLogBytes: snapshotWalMB << 20,
                                         backlogBytes: replicated ? replicationBacklogMB << 20 : nil)
            log.info("collection loaded", metadata: [
                "collection": "\(c.name)", "kind": "\(c.kind)", "spec": "\(c.spec)", "count": "\(c.count)", "dimension": "\(c.dimension)",
                "metric": "\(c.metric.rawValue)", "seconds": "\(String(format: "%.2f", watch.seconds))", "recommend": "\(d.modelDirectory != nil)",
            ])
            if c.replayed.records > 0 {
                log.info("replayed the write-ahead log", metadata: ["collection": "\(c.name)", "records": "\(c.replayed.records)"])
            }
            if c.replayed.discardedBytes > 0 {
                log.warning("cut a torn or corrupted write-ahead log tail (never acknowledged)",
                            metadata: ["collection": "\(c.name)", "bytes": "\(c.replayed.discardedBytes)"])
            }
            loaded.append(c)
        }
        var config = Server.Configuration()
        config.host = host
        config.port = port
        config.metricsPort = metricsPort
        config.insecure = insecure
        if let workers { config.workers = workers }
        config.workerSpinMicroseconds = workerSpin
        config.loopSpinMicroseconds = loopSpin
        config.microBatching = !noMicroBatch
        config.limits.maximumLineBytes = maxLineBytes
        config.limits.maximumK = maxK
        config.limits.maximumEf = maxEf
        config.limits.maximumBatch = maxBatch
        config.limits.maximumConnections = maxConnections
        config.limits.idleTimeoutSeconds = idleTimeout
        config.limits.maximumResultsPerRequest = maxResults
        config.limits.maximumReplyBytes = maxReplyMB << 20
        config.limits.outputPauseBytes = outputPauseKB << 10
        config.limits.maximumOutputBytes = maxOutputMB << 20
        config.limits.authTimeoutSeconds = authTimeout
        config.limits.lineTimeoutSeconds = lineTimeout
        config.limits.maximumUnauthenticatedConnections = maxUnauthenticated
        if let authTokenFile { config.authToken = try TokenFile.read(authTokenFile) }
        let server = try Server(collections: loaded, configuration: config)
        try server.start()
        var member: ClusterMember?
        if let cluster {
            let m = try ClusterMember(try ClusterMember.Configuration(parsing: cluster, advertise: advertise ?? "\(host):\(server.port)"))
            guard loaded.contains(where: { $0.name == m.configuration.collection }) else {
                throw ValidationError("--cluster names collection '\(m.configuration.collection)', which this server does not serve")
            }
            server.processor.writeGate = { m.writeRefusal() }
            server.processor.replicationGate = { m.replicationRefusal(term: $0) }
            m.replicate(loaded.first { $0.name == m.configuration.collection }!, ackReplicas: ackReplicas, ackTimeout: ackTimeout, token: config.authToken,
                        lineLimit: config.limits.maximumLineBytes)
            try m.start()
            log.notice("cluster member", metadata: ["shard": "\(m.configuration.shard)", "primary": "\(m.isPrimary)"])
            member = m
        }
        defer { member?.stop() }
        var listening: Logger.Metadata = ["host": "\(host)", "port": "\(server.port)", "workers": "\(config.workers)"]
        if let metricsPort = server.metricsPort { listening["metrics_port"] = "\(metricsPort)" }
        log.notice("listening", metadata: listening)
        // Scripts read the port from this line (useful with --port 0), and the metrics port after "metrics".
        print("ready \(host) \(server.port)" + (server.metricsPort.map { " metrics \($0)" } ?? ""))
        fflush(nil)
        let problems = server.runUntilSignalled { log.notice("\($0)") }
        for p in problems { log.error("\(p)") }
        if !problems.isEmpty { throw ExitCode(1) }
        log.notice("stopped")
    }
}

/// The shared secret of `--auth-token-file`: the file's first line, without surrounding spaces.
enum TokenFile {
    static func read(_ path: String) throws -> String {
        let text = try String(contentsOfFile: path, encoding: .utf8)
        guard let token = text.split(separator: "\n").first.map({ $0.trimmingCharacters(in: .whitespaces) }), !token.isEmpty else {
            throw ValidationError("\(path) holds no token")
        }
        return token
    }
}

