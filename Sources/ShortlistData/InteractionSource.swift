import ShortlistCore

/// The layouts interaction logs come in.
public enum InteractionFormat: String, CaseIterable, Sendable {
    /// A folder with `train.txt` and optionally `valid.txt`, `test.txt`: one line per user,
    /// `user item item …`, 0-based integer ids that are also the rows (the LightGCN layout).
    case lightgcn
    /// `user item [weight]` per line, whitespace separated, 0-based integer ids that are also the
    /// rows: a folder with `train.txt` (and `valid.txt`, `test.txt`), or one file that is split.
    case pairs
    /// A MovieLens folder: `u.data` (100K), `ratings.dat` (1M/10M) or `ratings.csv` (latest),
    /// with the titles, genres and user features of its own files. Ratings ≥ `minRating` count.
    case movielens
    /// A delimited file (comma, tab or semicolon, found from the header) with named columns.
    case csv
}

/// Where interactions come from and how they are turned into train / valid / test splits.
/// Stored with a trained model so `shortlist evaluate` rebuilds exactly the same splits.
public struct InteractionSource: Sendable, Equatable {
    public var format: InteractionFormat
    /// A folder (lightgcn, movielens, pairs with split files) or a file (pairs, csv).
    public var path: String
    /// Ratings at or above this count as positives (movielens; csv with a rating column).
    /// Default 4.
    public var minRating: Double = 4
    /// Fraction of each user's interactions held out for validation when the data is one file
    /// (users with fewer than 3 interactions keep all of them for training). Default 0.1.
    public var validFraction: Double = 0.1
    /// Fraction held out for the test split, likewise. Default 0.1.
    public var testFraction: Double = 0.1
    /// Seed of the per-user random split. Default `SeededGenerator.defaultSeed`.
    public var splitSeed: UInt64 = SeededGenerator.defaultSeed
    /// Hold out each user's latest interactions (by timestamp) instead of random ones.
    public var splitByTime = false
    /// csv: the column names of the user id, item id, and optional rating and timestamp.
    public var userColumn = "user"
    public var itemColumn = "item"
    public var ratingColumn: String?
    public var timeColumn: String?
    /// Which side features to read when the data has them (movielens): item genres, item title
    /// tokens, user categorical features. Default all.
    public var useGenres = true
    public var useTitles = true
    public var useUserFeatures = true
    /// Hash buckets for title tokens. Default 4096.
    public var textBuckets = 4096
    /// A feature schema file (`FeatureSchema`): item and user feature files, context columns.
    /// Nil: the layout's own features (MovieLens) or none.
    public var schemaPath: String?
    /// Share of users held out of training entirely, for cold-start evaluation: their earlier
    /// items become a request's history and their later ones (`testFraction`) its targets.
    /// Default 0.
    public var coldUserFraction: Double = 0
    /// Share of items held out of training entirely: embedded from their features, they are
    /// scored on the model's users who went on to them. Default 0.
    public var coldItemFraction: Double = 0

    public init(format: InteractionFormat, path: String) {
        self.format = format
        self.path = path
    }

    /// `key=value` lines, the form saved next to a model.
    public var serialized: String {
        var lines = ["format=\(format.rawValue)", "path=\(path)", "min_rating=\(minRating)",
                     "valid_fraction=\(validFraction)", "test_fraction=\(testFraction)",
                     "split_seed=\(splitSeed)", "split_by_time=\(splitByTime)",
                     "user_column=\(userColumn)", "item_column=\(itemColumn)",
                     "use_genres=\(useGenres)", "use_titles=\(useTitles)",
                     "use_user_features=\(useUserFeatures)", "text_buckets=\(textBuckets)"]
        if let ratingColumn { lines.append("rating_column=\(ratingColumn)") }
        if let timeColumn { lines.append("time_column=\(timeColumn)") }
        if let schemaPath { lines.append("schema=\(schemaPath)") }
        if coldUserFraction > 0 { lines.append("cold_user_fraction=\(coldUserFraction)") }
        if coldItemFraction > 0 { lines.append("cold_item_fraction=\(coldItemFraction)") }
        return lines.joined(separator: "\n") + "\n"
    }

    /// Parses `serialized`; unknown keys or bad values are refused.
    public init(serialized text: String) throws {
        var values: [String: String] = [:]
        for line in text.split(separator: "\n") where !line.isEmpty {
            guard let eq = line.firstIndex(of: "=") else {
                throw InteractionError.badSource(reason: "line '\(line.prefix(60))' is not key=value")
            }
            values[String(line[..<eq])] = String(line[line.index(after: eq)...])
        }
        func take(_ key: String) throws -> String {
            guard let v = values.removeValue(forKey: key) else { throw InteractionError.badSource(reason: "missing \(key)") }
            return v
        }
        func parse<T: LosslessStringConvertible>(_ key: String) throws -> T {
            let raw = try take(key)
            guard let v = T(raw) else { throw InteractionError.badSource(reason: "\(key)=\(raw) is not valid") }
            return v
        }
        let formatName = try take("format")
        guard let format = InteractionFormat(rawValue: formatName) else {
            throw InteractionError.badSource(reason: "unknown format \(formatName)")
        }
        self.init(format: format, path: try take("path"))
        minRating = try parse("min_rating")
        validFraction = try parse("valid_fraction")
        testFraction = try parse("test_fraction")
        splitSeed = try parse("split_seed")
        splitByTime = try parse("split_by_time")
        userColumn = try take("user_column")
        itemColumn = try take("item_column")
        useGenres = try parse("use_genres")
        useTitles = try parse("use_titles")
        useUserFeatures = try parse("use_user_features")
        textBuckets = try parse("text_buckets")
        ratingColumn = values.removeValue(forKey: "rating_column")
        timeColumn = values.removeValue(forKey: "time_column")
        schemaPath = values.removeValue(forKey: "schema")
        if values["cold_user_fraction"] != nil { coldUserFraction = try parse("cold_user_fraction") }
        if values["cold_item_fraction"] != nil { coldItemFraction = try parse("cold_item_fraction") }
        if let extra = values.keys.sorted().first { throw InteractionError.badSource(reason: "unknown key \(extra)") }
    }
}
