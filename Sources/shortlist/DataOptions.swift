import ArgumentParser
import Foundation
import ShortlistCore
import ShortlistData
import ShortlistIndex
import ShortlistTrainer

/// Options that say where interactions come from and how they are split (train and evaluate).
struct DataOptions: ParsableArguments {
    @Option(help: "Interaction data: a folder (lightgcn, movielens, pairs with train.txt …) or a file (pairs, csv).")
    var data: String

    @Option(help: "Layout: lightgcn, pairs, movielens or csv.")
    var format: InteractionFormat = .lightgcn

    @Option(name: .customLong("min-rating"), help: "movielens / csv with --rating-column: ratings at or above this are positives.")
    var minRating: Double = 4

    @Option(name: .customLong("valid-fraction"), help: "Single-file data: share of each user's items held out for validation.")
    var validFraction: Double = 0.1

    @Option(name: .customLong("test-fraction"), help: "Single-file data: share held out for test.")
    var testFraction: Double = 0.1

    @Option(name: .customLong("split-by"), help: "Single-file data: 'random' (seeded, per user), 'time' (each user's latest are held out), or 'users' (time, and --cold-users of the users, default 0.1, held out of training entirely).")
    var splitBy: SplitBy = .random

    @Option(name: .customLong("cold-users"), help: "Share of users held out of training entirely, for cold-start metrics (default 0; 0.1 with --split-by users).")
    var coldUsers: Double?

    @Option(name: .customLong("cold-items"), help: "Share of items held out of training entirely; they are embedded from their features for cold-start metrics.")
    var coldItems: Double = 0

    @Option(help: "Feature schema (JSON): item and user feature files, context columns; see docs/trainer.md.")
    var schema: String?

    @Option(name: .customLong("split-seed"), help: "Seed of the random split.")
    var splitSeed: UInt64 = SeededGenerator.defaultSeed

    @Option(name: .customLong("user-column"), help: "csv: column of user ids.")
    var userColumn: String = "user"

    @Option(name: .customLong("item-column"), help: "csv: column of item ids.")
    var itemColumn: String = "item"

    @Option(name: .customLong("rating-column"), help: "csv: column of ratings (rows below --min-rating are dropped).")
    var ratingColumn: String?

    @Option(name: .customLong("time-column"), help: "csv: column of timestamps (for --split-by time).")
    var timeColumn: String?

    @Flag(name: .customLong("no-genres"), help: "movielens: do not use item genres.")
    var noGenres = false

    @Flag(name: .customLong("no-titles"), help: "movielens: do not use title tokens.")
    var noTitles = false

    @Flag(name: .customLong("no-user-features"), help: "movielens: do not use age, gender, occupation.")
    var noUserFeatures = false

    @Option(name: .customLong("text-buckets"), help: "Hash buckets for title tokens.")
    var textBuckets: Int = 4096

    func source() throws -> InteractionSource {
        // Stored absolute, so `shortlist evaluate` finds the data from any directory.
        func absolute(_ path: String) -> String {
            ((path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path) as NSString).standardizingPath
        }
        var s = InteractionSource(format: format, path: absolute(data))
        s.schemaPath = schema.map(absolute)
        s.coldUserFraction = coldUsers ?? (splitBy == .users ? 0.1 : 0)
        s.coldItemFraction = coldItems
        s.minRating = minRating
        s.validFraction = validFraction
        s.testFraction = testFraction
        s.splitByTime = splitBy != .random
        s.splitSeed = splitSeed
        s.userColumn = userColumn
        s.itemColumn = itemColumn
        s.ratingColumn = ratingColumn
        s.timeColumn = timeColumn
        s.useGenres = !noGenres
        s.useTitles = !noTitles
        s.useUserFeatures = !noUserFeatures
        s.textBuckets = textBuckets
        return s
    }
}
