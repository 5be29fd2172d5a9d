import ArgumentParser
import Foundation
import ShortlistClient
import ShortlistServer

struct RouteCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "route",
        abstract: "Serve the protocol for a cluster's collection, routing each request to its shards.",
        usage: "shortlist route --collection <c> [--etcd <url>] [--port <p>] [<options>]",
        discussion: """
        A stateless router for clients that cannot route themselves (docs/cluster.md): searches \
        go to one server of every shard and come back merged by score, with missing_shards \
        listing shards that did not answer within --deadline; upserts and deletes go to each \
        id's primary. Run as many routers as you like.

        Example:
          shortlist route --etcd http://127.0.0.1:2379 --collection items --port 7800
        """
    )

    @Option(help: "etcd's client URL.")
    var etcd = "http://127.0.0.1:2379"

    @Option(help: "The cluster's collection.")
    var collection: String

    @Option(help: "Address to listen on.")
    var host = "127.0.0.1"

    @Option(help: "Port to listen on (0: any free port, printed on the ready line).")
    var port = 7800

    @Option(help: "Threads forwarding requests (they wait on the network, so more than cores).")
    var workers = 16

    @Option(help: "Seconds to wait for the shards of a search.")
    var deadline = 2.0

    @Option(name: .customLong("auth-token-file"), help: "The servers' shared secret, sent to them, and asked of this router's clients.")
    var authTokenFile: String?

    func validate() throws {
        guard (1...1024).contains(workers) else { throw ValidationError("--workers must be in 1...1024") }
        guard deadline > 0, deadline <= 600 else { throw ValidationError("--deadline must be in (0, 600] seconds") }
    }

    func run() throws {
        let token = try authTokenFile.map { try TokenFile.read($0) }
        let cluster = try ClusterClient(etcd: etcd, collection: collection, token: token, deadline: deadline)
        var config = Server.Configuration()
        config.host = host
        config.port = port
        config.workers = workers
        config.authToken = token
        let server = try Server(collections: [], configuration: config)
        server.processor.forwarder = ClusterRouter(cluster: cluster)
        try server.start()
        let t = cluster.currentTopology
        print("ready \(host) \(server.port) routing '\(collection)' over \(t.shards) shard\(t.shards == 1 ? "" : "s")")
        fflush(nil)
        _ = server.runUntilSignalled { _ in }
    }
}
