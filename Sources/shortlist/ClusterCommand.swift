import ArgumentParser
import Foundation
import ShortlistClient
import ShortlistIndex
import ShortlistProtocol

struct ClusterCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cluster",
        abstract: "Show a cluster's shards, servers and primaries from etcd, or search it across every shard.",
        usage: "shortlist cluster --collection <c> [--etcd <url>] [--vector <v>]",
        discussion: """
        Reads the layout that `serve --cluster` servers keep in etcd (docs/cluster.md). With \
        --vector, the query goes to one server of every shard and the hits are merged by score; \
        shards that do not answer within --deadline are reported.

        Examples:
          shortlist cluster --etcd http://127.0.0.1:2379 --collection items
          shortlist cluster --etcd http://127.0.0.1:2379 --collection items \\
              --vector 0.1,0.2,0.3,0.4 --k 5
        """
    )

    @Option(help: "etcd's client URL.")
    var etcd = "http://127.0.0.1:2379"

    @Option(help: "The collection the cluster serves.")
    var collection: String

    @Option(help: "Search with this vector (comma-separated numbers).")
    var vector: String?

    @Option(help: "Neighbours to return.")
    var k = 10

    @Option(help: "HNSW ef sent to every shard.")
    var ef: Int?

    @Option(help: "Seconds to wait for the shards.")
    var deadline = 2.0

    func run() throws {
        let client = try ClusterClient(etcd: etcd, collection: collection, deadline: deadline)
        let t = client.currentTopology
        guard let vector else {
            print("collection \(collection): \(t.shards) shard\(t.shards == 1 ? "" : "s")")
            for s in 0..<t.shards {
                let servers = t.members[s].isEmpty ? "no server" : t.members[s].joined(separator: ", ")
                print("shard \(s): primary \(t.primaries[s] ?? "none"); servers \(servers)")
            }
            return
        }
        let result = try client.search(try VectorText.parse(vector), options: QueryOptions(k: k, parameters: SearchParameters(ef: ef)))
        print("rank  id                    score")
        for (rank, hit) in result.hits.enumerated() {
            print(String(rank + 1).padding(toLength: 4, withPad: " ", startingAt: 0) + "  " + String(hit.id).padding(toLength: 20, withPad: " ", startingAt: 0)
                  + "  " + String(format: "%.6f", hit.score))
        }
        if !result.missingShards.isEmpty {
            print("partial: no answer from shard\(result.missingShards.count == 1 ? "" : "s") \(result.missingShards.map(String.init).joined(separator: ", "))")
        }
    }
}
