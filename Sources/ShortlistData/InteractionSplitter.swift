import ShortlistCore
import ShortlistFeatures

/// Turns events into rows and splits them: optionally a seeded share of items and of users is
/// held out of training entirely (cold start), then each remaining user's items go to train /
/// valid / test, by a seeded random choice or the latest by time. Users with fewer than 3 items
/// keep them all in train. Context columns are fitted on the training interactions and encoded
/// for every training interaction and for each user's first validation and test interaction.
struct InteractionSplitter {
    let source: InteractionSource
    let schema: FeatureSchema
    /// Whether events carry timestamps (hour and weekday context need them).
    let hasTime: Bool
    /// Ids are rows (0-based layouts); otherwise rows follow ascending ids.
    let identityIds: Bool

    private struct Entry {
        var item: Int32
        var time: Double
        var event: Int
    }

    func split(_ events: [InteractionEvent]) throws -> InteractionData {
        guard !events.isEmpty else { throw InteractionError.empty(path: source.path, reason: "no interactions pass the filters") }
        for c in schema.context where c.kind == .tags || c.kind == .text {
            throw InteractionError.badSchema(reason: "context column '\(c.name)' must be single-valued: categorical, numeric, hour or weekday")
        }
        // Cold items, then cold users, chosen by a generator of their own so the per-user split
        // below is the same as without them.
        var coldGenerator = SeededGenerator(seed: source.splitSeed ^ 0x636f_6c64)
        let coldItemIds = Self.choose(Set(events.map(\.item)), fraction: source.coldItemFraction, &coldGenerator)
        let coldUserIds = Self.choose(Set(events.lazy.filter { !coldItemIds.contains($0.item) }.map(\.user)), fraction: source.coldUserFraction, &coldGenerator)
        let warm = events.indices.filter { !coldItemIds.contains(events[$0].item) && !coldUserIds.contains(events[$0].user) }
        guard !warm.isEmpty else { throw InteractionError.empty(path: source.path, reason: "every interaction is held out as cold") }

        let userIds: [UInt64], itemIds: [UInt64]
        if identityIds {
            let maxUser = warm.map { events[$0].user }.max()!, maxItem = warm.map { events[$0].item }.max()!
            guard maxUser < 1 << 31, maxItem < 1 << 31 else {
                throw InteractionError.badLine(path: source.path, line: 0, reason: "ids of this layout are rows and must be below 2^31")
            }
            userIds = Array(0...maxUser)
            itemIds = Array(0...maxItem)
        } else {
            userIds = Array(Set(warm.map { events[$0].user })).sorted()
            itemIds = Array(Set(events.lazy.filter { !coldItemIds.contains($0.item) }.map(\.item))).sorted()
        }
        let userRow = Dictionary(uniqueKeysWithValues: userIds.enumerated().map { ($1, Int32($0)) })
        let itemRow = Dictionary(uniqueKeysWithValues: itemIds.enumerated().map { ($1, Int32($0)) })

        // Per-user item lists, keeping each item's latest event.
        var perUser = [[Int32: Entry]](repeating: [:], count: userIds.count)
        for e in warm {
            let u = Int(userRow[events[e].user]!), i = itemRow[events[e].item]!
            if perUser[u][i].map({ $0.time <= events[e].time }) ?? true { perUser[u][i] = Entry(item: i, time: events[e].time, event: e) }
        }
        var generator = SeededGenerator(seed: source.splitSeed)
        var parts: [(users: [Int32], items: [Int32])] = Array(repeating: ([], []), count: 3)
        var trainEntries: [[Entry]] = [], firstHeldOut: [[Int?]] = [[Int?]](repeating: [nil, nil], count: userIds.count)
        var seenOffsets = [0], seenItems: [Int32] = []
        trainEntries.reserveCapacity(userIds.count)
        for u in 0..<userIds.count {
            var items = ordered(Array(perUser[u].values), &generator)
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
                if part > 0, firstHeldOut[u][part - 1] == nil { firstHeldOut[u][part - 1] = entry.event }
            }
            // Seen: training then validation items, each part in time order.
            var train = Array(items.prefix(n - testCount - validCount)), valid = Array(items[(n - testCount - validCount)..<(n - testCount)])
            if hasTime {
                train.sort { ($0.time, $0.item) < ($1.time, $1.item) }
                valid.sort { ($0.time, $0.item) < ($1.time, $1.item) }
            }
            seenItems.append(contentsOf: (train + valid).map(\.item))
            seenOffsets.append(seenItems.count)
            items = train
            trainEntries.append(items)
        }
        let m = parts.map { InteractionMatrix(rowCount: userIds.count, users: $0.users, items: $0.items) }
        var data = InteractionData(userIds: userIds, itemIds: itemIds, train: m[0], valid: m[1], test: m[2])

        // Context: fitted on the training interactions (their raw values read once, in sequence order).
        let trainValues = schema.context.isEmpty ? [] : trainEntries.joined().map { contextValues(events[$0.event]) }
        let encoders = try schema.context.enumerated().map { f, column in
            try FeatureEncoder.fit(column, values: trainValues.map { $0[f] })
        }
        data.contextEncoders = encoders
        let width = encoders.count
        func encode(_ values: [[FeatureValue]]?, into rows: inout [Int32]) {
            guard let values else { rows.append(contentsOf: repeatElement(0, count: width)); return }
            for (f, encoder) in encoders.enumerated() { rows.append(values[f].first.map(encoder.singleRow) ?? 0) }
        }
        func encode(_ event: Int?, into rows: inout [Int32]) { encode(event.map { contextValues(events[$0]) }, into: &rows) }
        var offsets = [0], items: [Int32] = [], context: [Int32] = []
        for list in trainEntries {
            for entry in list {
                if width > 0 { encode(trainValues[items.count], into: &context) }
                items.append(entry.item)
            }
            offsets.append(items.count)
        }
        data.sequence = InteractionSequence(offsets: offsets, items: items, contextWidth: width, context: context)
        data.seenSequence = InteractionSequence(offsets: seenOffsets, items: seenItems, contextWidth: 0, context: [])
        for u in 0..<userIds.count {
            encode(firstHeldOut[u][0], into: &data.validContext)
            encode(firstHeldOut[u][1], into: &data.testContext)
        }

        // Cold users: their earlier items are a request's history, their later ones its targets.
        if !coldUserIds.isEmpty {
            let ids = coldUserIds.sorted()
            let coldRow = Dictionary(uniqueKeysWithValues: ids.enumerated().map { ($1, $0) })
            var lists = [[Int32: Entry]](repeating: [:], count: ids.count)
            for (e, event) in events.enumerated() {
                guard let r = coldRow[event.user], let i = itemRow[event.item] else { continue }
                if lists[r][i].map({ $0.time <= event.time }) ?? true { lists[r][i] = Entry(item: i, time: event.time, event: e) }
            }
            var historyOffsets = [0], history: [Int32] = [], targetUsers: [Int32] = [], targetItems: [Int32] = [], coldContext: [Int32] = []
            for (r, list) in lists.enumerated() {
                let items = ordered(Array(list.values), &coldGenerator)
                let n = items.count
                let targetCount = n >= 2 ? min(n - 1, max(1, Int((Double(n) * source.testFraction).rounded()))) : 0
                history.append(contentsOf: items.prefix(n - targetCount).map(\.item))
                historyOffsets.append(history.count)
                for entry in items.suffix(targetCount) { targetUsers.append(Int32(r)); targetItems.append(entry.item) }
                encode(targetCount > 0 ? items[n - targetCount].event : nil, into: &coldContext)
            }
            data.coldUsers = ColdUsers(ids: ids, history: InteractionSequence(offsets: historyOffsets, items: history, contextWidth: 0, context: []),
                                       targets: InteractionMatrix(rowCount: ids.count, users: targetUsers, items: targetItems),
                                       context: coldContext, features: [])
        }
        // Cold items: who of the model's users went on to them.
        if !coldItemIds.isEmpty {
            let ids = coldItemIds.sorted()
            let coldRow = Dictionary(uniqueKeysWithValues: ids.enumerated().map { ($1, Int32($0)) })
            var users: [Int32] = [], items: [Int32] = []
            for event in events {
                guard let i = coldRow[event.item], let u = userRow[event.user] else { continue }
                users.append(u)
                items.append(i)
            }
            data.coldItems = ColdItems(ids: ids, features: [], targets: InteractionMatrix(rowCount: userIds.count, users: users, items: items))
        }
        return data
    }

    /// A user's entries in split order: by time when holding out the latest, else a seeded shuffle.
    private func ordered(_ entries: [Entry], _ generator: inout SeededGenerator) -> [Entry] {
        var items = entries.sorted { ($0.time, $0.item) < ($1.time, $1.item) }
        if !source.splitByTime {
            items.sort { $0.item < $1.item }
            items.shuffle(using: &generator)
        }
        return items
    }

    /// The raw value of each schema context column for one event (empty: unknown).
    private func contextValues(_ event: InteractionEvent) -> [[FeatureValue]] {
        var k = 0
        return schema.context.map { c in
            if c.kind == .hour || c.kind == .weekday { return hasTime ? [.number(event.time)] : [] }
            defer { k += 1 }
            let raw = k < event.context.count ? event.context[k] : ""
            return raw.isEmpty ? [] : [.text(raw)]
        }
    }

    /// A seeded `fraction` of `ids` (at least one when the fraction is positive and there are two or more).
    static func choose(_ ids: Set<UInt64>, fraction: Double, _ generator: inout SeededGenerator) -> Set<UInt64> {
        guard fraction > 0, ids.count >= 2 else { return [] }
        var list = ids.sorted()
        list.shuffle(using: &generator)
        let count = min(ids.count - 1, max(1, Int((Double(ids.count) * fraction).rounded())))
        return Set(list.prefix(count))
    }
}
