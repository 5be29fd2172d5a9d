import Foundation
import ShortlistCore
import ShortlistFeatures

/// The three MovieLens layouts: 100K (`u.data`, `u.item`, `u.user`, `u.genre`), 1M/10M
/// (`ratings.dat`, `movies.dat`, `users.dat`, `::` separated) and latest (`ratings.csv`,
/// `movies.csv`). Ratings ≥ `minRating` are positives. The layout's own item and user files
/// become feature tables with a built-in schema (items: `genres` tags, `title` text; users:
/// `age` group, `gender`, `occupation`, all categorical), the same path a schema file takes.
enum MovieLensFiles {
    private enum Layout { case hundredK, dat, latest }

    /// What a MovieLens folder holds.
    struct Contents {
        var events: [InteractionEvent]
        var items = FeatureTable()
        var users = FeatureTable()
        var itemColumns: [FeatureColumn] = []
        var userColumns: [FeatureColumn] = []
        var titles: [UInt64: String] = [:]
    }

    static func read(_ source: InteractionSource) throws -> Contents {
        let dir = source.path
        // Each file may also be gzip-compressed, as NAME.gz.
        func file(_ name: String) -> String? { TextInput.existing((dir as NSString).appendingPathComponent(name)) }
        let layout: Layout, ratingsPath: String
        if let p = file("u.data") { layout = .hundredK; ratingsPath = p }
        else if let p = file("ratings.dat") { layout = .dat; ratingsPath = p }
        else if let p = file("ratings.csv") { layout = .latest; ratingsPath = p }
        else { throw InteractionError.missingFile(path: dir, expected: "u.data, ratings.dat or ratings.csv (each may be .gz)") }

        var contents = Contents(events: [])
        let separator: String? = layout == .hundredK ? nil : (layout == .dat ? "::" : ",")
        try TextTable.forEachRow(try TextInput.open(ratingsPath), separator: separator) { line, f in
            if layout == .latest && line == 1 && f.first == "userId" { return }
            guard f.count >= 3 else {
                throw InteractionError.badLine(path: ratingsPath, line: line, reason: "expected user, item, rating[, timestamp]")
            }
            let rating = try TextTable.number(f[2], path: ratingsPath, line: line, what: "rating")
            guard rating >= source.minRating else { return }
            contents.events.append(.init(user: try TextTable.id(f[0], path: ratingsPath, line: line, what: "user"),
                                         item: try TextTable.id(f[1], path: ratingsPath, line: line, what: "item"),
                                         time: f.count > 3 ? try TextTable.number(f[3], path: ratingsPath, line: line, what: "timestamp") : 0))
        }

        // Items: title and genre names by external id.
        var genres: [UInt64: [String]] = [:]
        switch layout {
        case .hundredK:
            if let p = file("u.item") {
                var names: [String] = []
                if let g = file("u.genre") {
                    try TextTable.forEachRow(try TextInput.open(g), separator: "|") { _, f in if let n = f.first { names.append(String(n)) } }
                }
                try TextTable.forEachRow(try TextInput.open(p), separator: "|") { line, f in
                    guard f.count >= 5 else { throw InteractionError.badLine(path: p, line: line, reason: "expected id|title|…|genre flags") }
                    let id = try TextTable.id(f[0], path: p, line: line, what: "movie id")
                    contents.titles[id] = String(f[1])
                    let flags = f.dropFirst(5)
                    genres[id] = flags.enumerated().compactMap { j, flag in flag == "1" ? (j < names.count ? names[j] : "genre\(j)") : nil }
                }
            }
        case .dat, .latest:
            let name = layout == .dat ? "movies.dat" : "movies.csv"
            if let p = file(name) {
                try TextTable.forEachRow(try TextInput.open(p), separator: layout == .dat ? "::" : ",", quoted: layout == .latest) { line, f in
                    if layout == .latest && line == 1 && f.first == "movieId" { return }
                    guard f.count >= 3 else { throw InteractionError.badLine(path: p, line: line, reason: "expected id, title, genres") }
                    let id = try TextTable.id(f[0], path: p, line: line, what: "movie id")
                    contents.titles[id] = String(f[1])
                    genres[id] = f[2].split(separator: "|").map(String.init).filter { $0 != "(no genres listed)" }
                }
            }
        }
        if !contents.titles.isEmpty {
            if source.useGenres {
                contents.itemColumns.append(FeatureColumn(name: "genres", kind: .tags))
                for (id, list) in genres where !list.isEmpty { contents.items.add(.list(list), column: "genres", id: id) }
            }
            if source.useTitles {
                contents.itemColumns.append(FeatureColumn(name: "title", kind: .text, buckets: source.textBuckets))
                for (id, title) in contents.titles { contents.items.add(.text(title), column: "title", id: id) }
            }
        }

        // Users: age group, gender, occupation.
        guard source.useUserFeatures else { return contents }
        var userValues: [UInt64: [String]] = [:]   // [age group, gender, occupation]
        if layout == .hundredK, let p = file("u.user") {
            try TextTable.forEachRow(try TextInput.open(p), separator: "|") { line, f in
                guard f.count >= 4 else { throw InteractionError.badLine(path: p, line: line, reason: "expected id|age|gender|occupation|zip") }
                let age = try TextTable.number(f[1], path: p, line: line, what: "age")
                userValues[try TextTable.id(f[0], path: p, line: line, what: "user id")] = [ageBucket(age), String(f[2]), String(f[3])]
            }
        } else if layout == .dat, let p = file("users.dat") {
            try TextTable.forEachRow(try TextInput.open(p), separator: "::") { line, f in
                guard f.count >= 4 else { throw InteractionError.badLine(path: p, line: line, reason: "expected id::gender::age::occupation::zip") }
                let age = try TextTable.number(f[2], path: p, line: line, what: "age")
                userValues[try TextTable.id(f[0], path: p, line: line, what: "user id")] = [ageBucket(age), String(f[1]), String(f[3])]
            }
        }
        if !userValues.isEmpty {
            for (j, name) in ["age", "gender", "occupation"].enumerated() {
                contents.userColumns.append(FeatureColumn(name: name, kind: .categorical))
                for (id, values) in userValues { contents.users.add(.text(values[j]), column: name, id: id) }
            }
        }
        return contents
    }

    /// MovieLens-1M's age groups: under 18, 18–24, 25–34, 35–44, 45–49, 50–55, 56+.
    static func ageBucket(_ age: Double) -> String {
        let bounds: [Double] = [18, 25, 35, 45, 50, 56]
        return "age\(bounds.firstIndex { age < $0 } ?? bounds.count)"
    }
}
