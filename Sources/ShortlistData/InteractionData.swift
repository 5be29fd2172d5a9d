import Foundation
import ShortlistCore

/// Implicit-feedback interactions split into train / valid / test, with the external ids of
/// user and item rows and the side features the data carries.
public struct InteractionData: Sendable {
    /// External id of each user row.
    public var userIds: [UInt64]
    /// External id of each item row.
    public var itemIds: [UInt64]
    /// Training interactions (users × items).
    public var train: InteractionMatrix
    /// Validation interactions (may be empty).
    public var valid: InteractionMatrix
    /// Test interactions (may be empty).
    public var test: InteractionMatrix
    /// Side features per user row (age bucket, gender, occupation …), possibly none.
    public var userFeatures: [FeatureField] = []
    /// Side features per item row (genres, title tokens …), possibly none.
    public var itemFeatures: [FeatureField] = []
    /// Title of each item row when the data names them (else empty).
    public var itemTitles: [String] = []

    public init(userIds: [UInt64], itemIds: [UInt64], train: InteractionMatrix,
                valid: InteractionMatrix, test: InteractionMatrix) {
        self.userIds = userIds
        self.itemIds = itemIds
        self.train = train
        self.valid = valid
        self.test = test
    }

    public var userCount: Int { userIds.count }
    public var itemCount: Int { itemIds.count }

    /// One line describing the sizes, for logs.
    public var summary: String {
        var s = "\(userCount) users, \(itemCount) items, interactions train \(train.count) / valid \(valid.count) / test \(test.count)"
        let features = (userFeatures.map { "user \($0.name)" } + itemFeatures.map { "item \($0.name)" })
        if !features.isEmpty { s += "; features: " + features.joined(separator: ", ") }
        return s
    }

    /// Reads and splits the interactions `source` names.
    public static func read(_ source: InteractionSource) throws -> InteractionData {
        guard (0..<1).contains(source.validFraction), (0..<1).contains(source.testFraction),
              source.validFraction + source.testFraction < 1 else {
            throw InteractionError.badSplit(reason: "valid \(source.validFraction) + test \(source.testFraction) must be in [0, 1)")
        }
        guard source.textBuckets >= 1 && source.textBuckets <= 1 << 24 else {
            throw InteractionError.badSplit(reason: "text buckets must be in 1...16777216")
        }
        let data: InteractionData
        switch source.format {
        case .lightgcn: data = try readSplitFiles(source, adjacency: true)
        case .pairs:
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: source.path, isDirectory: &isDirectory), isDirectory.boolValue {
                data = try readSplitFiles(source, adjacency: false)
            } else {
                data = try split(events: try readPairsFile(source.path), identityIds: true, source: source)
            }
        case .movielens: data = try MovieLensFiles.read(source)
        case .csv: data = try split(events: try readCSV(source), identityIds: false, source: source)
        }
        guard data.train.count > 0 else { throw InteractionError.empty(path: source.path, reason: "the training split is empty") }
        return data
    }

    /// One interaction before ids become rows.
    struct Event {
        var user: UInt64
        var item: UInt64
        var time: Double
    }

    private static func readSplitFiles(_ source: InteractionSource, adjacency: Bool) throws -> InteractionData {
        let dir = source.path
        let trainPath = (dir as NSString).appendingPathComponent("train.txt")
        guard FileManager.default.fileExists(atPath: trainPath) else {
            throw InteractionError.missingFile(path: dir, expected: "train.txt")
        }
        var splits: [[(UInt64, UInt64)]] = []
        var maxUser: UInt64 = 0, maxItem: UInt64 = 0
        for name in ["train.txt", "valid.txt", "test.txt"] {
            let path = (dir as NSString).appendingPathComponent(name)
            var pairs: [(UInt64, UInt64)] = []
            if FileManager.default.fileExists(atPath: path) {
                let events = adjacency ? try readAdjacencyFile(path) : try readPairsFile(path)
                pairs = events.map { ($0.user, $0.item) }
            }
            for (u, i) in pairs { maxUser = max(maxUser, u); maxItem = max(maxItem, i) }
            splits.append(pairs)
        }
        guard maxUser < 1 << 31, maxItem < 1 << 31 else {
            throw InteractionError.badLine(path: dir, line: 0, reason: "ids of this layout are rows and must be below 2^31")
        }
        let userCount = Int(maxUser) + 1, itemCount = Int(maxItem) + 1
        let matrices = splits.map { pairs in
            InteractionMatrix(rowCount: userCount, users: pairs.map { Int32($0.0) }, items: pairs.map { Int32($0.1) })
        }
        return InteractionData(userIds: (0..<UInt64(userCount)).map { $0 }, itemIds: (0..<UInt64(itemCount)).map { $0 },
                               train: matrices[0], valid: matrices[1], test: matrices[2])
    }

    static func readAdjacencyFile(_ path: String) throws -> [Event] {
        var events: [Event] = []
        try TextTable.forEachRow(try MappedFile(path: path), separator: nil) { line, fields in
            let user = try TextTable.id(fields[0], path: path, line: line, what: "user")
            for f in fields.dropFirst() {
                events.append(Event(user: user, item: try TextTable.id(f, path: path, line: line, what: "item"), time: 0))
            }
        }
        return events
    }

    static func readPairsFile(_ path: String) throws -> [Event] {
        var events: [Event] = []
        try TextTable.forEachRow(try MappedFile(path: path), separator: nil) { line, fields in
            guard fields.count == 2 || fields.count == 3 else {
                throw InteractionError.badLine(path: path, line: line, reason: "expected 'user item [weight]', found \(fields.count) fields")
            }
            let user = try TextTable.id(fields[0], path: path, line: line, what: "user")
            let item = try TextTable.id(fields[1], path: path, line: line, what: "item")
            if fields.count == 3, try TextTable.number(fields[2], path: path, line: line, what: "weight") <= 0 { return }
            events.append(Event(user: user, item: item, time: 0))
        }
        return events
    }

    private static func readCSV(_ source: InteractionSource) throws -> [Event] {
        let path = source.path
        let file = try MappedFile(path: path)
        var events: [Event] = []
        var columns: (user: Int, item: Int, rating: Int?, time: Int?)?
        var separator = ","
        var headerLine = true
        var lineNumber = 0
        try forEachLine(file.bytes) { raw in
            lineNumber += 1
            var line = Substring(decoding: raw, as: UTF8.self)
            if line.last == "\r" { line = line.dropLast() }
            if line.isEmpty { return }
            if headerLine {
                headerLine = false
                separator = TextTable.delimiter(ofHeader: line)
                let header = TextTable.split(line, separator: separator, quoted: true).map { String($0.trimmingSpaces) }
                func column(_ name: String) throws -> Int {
                    guard let c = header.firstIndex(of: name) else {
                        throw InteractionError.missingColumn(path: path, column: name, header: header)
                    }
                    return c
                }
                columns = (try column(source.userColumn), try column(source.itemColumn),
                           try source.ratingColumn.map(column), try source.timeColumn.map(column))
                return
            }
            guard let c = columns else { return }
            let fields = TextTable.split(line, separator: separator, quoted: true)
            let needed = max(c.user, c.item, c.rating ?? 0, c.time ?? 0)
            guard fields.count > needed else {
                throw InteractionError.badLine(path: path, line: lineNumber, reason: "\(fields.count) fields, the header names more")
            }
            if let r = c.rating, try TextTable.number(fields[r], path: path, line: lineNumber, what: "rating") < source.minRating { return }
            events.append(Event(user: try TextTable.id(fields[c.user], path: path, line: lineNumber, what: "user"),
                                item: try TextTable.id(fields[c.item], path: path, line: lineNumber, what: "item"),
                                time: try c.time.map { try TextTable.number(fields[$0], path: path, line: lineNumber, what: "timestamp") } ?? 0))
        }
        if columns == nil { throw InteractionError.empty(path: path, reason: "no header line") }
        return events
    }

    /// Turns events into rows and splits each user's items into train / valid / test: a seeded
    /// random choice, or the latest by time. Users with fewer than 3 items keep them all in train.
    /// `identityIds`: ids are rows (0-based layouts); otherwise rows follow ascending ids.
    static func split(events: [Event], identityIds: Bool, source: InteractionSource) throws -> InteractionData {
        guard !events.isEmpty else { throw InteractionError.empty(path: source.path, reason: "no interactions pass the filters") }
        let userIds: [UInt64], itemIds: [UInt64]
        if identityIds {
            let maxUser = events.map(\.user).max()!, maxItem = events.map(\.item).max()!
            guard maxUser < 1 << 31, maxItem < 1 << 31 else {
                throw InteractionError.badLine(path: source.path, line: 0, reason: "ids of this layout are rows and must be below 2^31")
            }
            userIds = Array(0...maxUser)
            itemIds = Array(0...maxItem)
        } else {
            userIds = Array(Set(events.map(\.user))).sorted()
            itemIds = Array(Set(events.map(\.item))).sorted()
        }
        let userRow = Dictionary(uniqueKeysWithValues: userIds.enumerated().map { ($1, Int32($0)) })
        let itemRow = Dictionary(uniqueKeysWithValues: itemIds.enumerated().map { ($1, Int32($0)) })
        // Per-user item lists, keeping each item's latest time.
        var perUser = [[Int32: Double]](repeating: [:], count: userIds.count)
        for e in events {
            let u = Int(userRow[e.user]!), i = itemRow[e.item]!
            perUser[u][i] = max(perUser[u][i] ?? -.infinity, e.time)
        }
        var generator = SeededGenerator(seed: source.splitSeed)
        var parts: [(users: [Int32], items: [Int32])] = Array(repeating: ([], []), count: 3)
        for u in 0..<userIds.count {
            var items = perUser[u].map { (item: $0.key, time: $0.value) }.sorted { ($0.time, $0.item) < ($1.time, $1.item) }
            if !source.splitByTime {
                items.sort { $0.item < $1.item }
                items.shuffle(using: &generator)
            }
            let n = items.count
            var testCount = 0, validCount = 0
            if n >= 3 {
                testCount = Int((Double(n) * source.testFraction).rounded())
                validCount = Int((Double(n) * source.validFraction).rounded())
                if source.testFraction > 0 { testCount = max(1, testCount) }
                if source.validFraction > 0 { validCount = max(1, validCount) }
                while testCount + validCount >= n { if validCount > 0 { validCount -= 1 } else { testCount -= 1 } }
            }
            for (j, entry) in items.enumerated() {
                let part = j >= n - testCount ? 2 : (j >= n - testCount - validCount ? 1 : 0)
                parts[part].users.append(Int32(u))
                parts[part].items.append(entry.item)
            }
        }
        let m = parts.map { InteractionMatrix(rowCount: userIds.count, users: $0.users, items: $0.items) }
        return InteractionData(userIds: userIds, itemIds: itemIds, train: m[0], valid: m[1], test: m[2])
    }
}
