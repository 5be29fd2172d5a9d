import ShortlistModel
import ArgumentParser
import Logging
import ShortlistCore
import ShortlistData
import ShortlistServer
import ShortlistTrainer

// Options whose values come from a fixed set are typed: `--help` lists the values, completion
// offers them, and a wrong one is refused by the parser with the list.

extension Metric: ExpressibleByArgument {
    /// Also the common aliases (`euclidean`, `dot`, `angular` …), as index files and peers spell them.
    public init?(argument: String) { self.init(name: argument) }
}

extension InteractionFormat: ExpressibleByArgument {}
extension EmbeddingOptimizer: ExpressibleByArgument {}
extension WriteAheadLog.SyncMode: ExpressibleByArgument {}
extension Logger.Level: @retroactive ExpressibleByArgument {}
extension ServerLogHandler.Format: ExpressibleByArgument {}

/// How single-file interaction data is split (`train --split-by`).
enum SplitBy: String, CaseIterable, ExpressibleByArgument {
    case random, time, users
}

/// Which held-out split `evaluate` ranks.
enum EvaluationSplit: String, CaseIterable, ExpressibleByArgument {
    case valid, test
}

/// How `loadtest` sends vectors.
enum VectorEncoding: String, CaseIterable, ExpressibleByArgument {
    case json, base64
}
