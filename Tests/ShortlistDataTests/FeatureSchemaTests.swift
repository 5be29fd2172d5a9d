import ShortlistCore
@testable import ShortlistData
import ShortlistTestSupport
@testable import ShortlistFeatures
import XCTest

final class FeatureSchemaTests: XCTestCase {
    private func source(_ dir: TemporaryDirectory, schema: String) -> InteractionSource {
        var s = InteractionSource(format: .csv, path: dir.file("log.csv"))
        s.timeColumn = "timestamp"
        s.splitByTime = true
        s.schemaPath = schema
        return s
    }

    func testEncodersMapUnseenAndMissingValuesToRowZero() throws {
        let genre = try FeatureEncoder.fit(FeatureColumn(name: "genre", kind: .categorical), values: [[.text("b")], [.text("a")], [], [.text("b")]])
        XCTAssertEqual(genre.vocabulary, ["a", "b"])
        XCTAssertEqual(genre.rowCount, 3)
        XCTAssertEqual(genre.encode([.text("b")]), [2])
        XCTAssertEqual(genre.encode([.text("never seen")]), [0])
        XCTAssertEqual(genre.encode([]), [0], "missing")
        let rare = try FeatureEncoder.fit(FeatureColumn(name: "g", kind: .categorical, minCount: 2), values: [[.text("b")], [.text("a")], [.text("b")]])
        XCTAssertEqual(rare.vocabulary, ["b"], "values in fewer than min_count rows share the out-of-vocabulary row")

        let tags = try FeatureEncoder.fit(FeatureColumn(name: "tags", kind: .tags), values: [[.text("x|y")], [.list(["y", "z"])]])
        XCTAssertEqual(tags.encode([.text("z|x|x|new")]), [3, 1, 0], "split, deduplicated, unseen → 0")

        let price = try FeatureEncoder.fit(FeatureColumn(name: "price", kind: .numeric, buckets: 4), values: (0..<100).map { [.number(Double($0))] })
        XCTAssertEqual(price.boundaries, [25, 50, 75])
        XCTAssertEqual(price.encode([.number(-5)]), [1])
        XCTAssertEqual(price.encode([.text("60")]), [3], "numbers in strings")
        XCTAssertEqual(price.encode([.number(1e9)]), [4])
        XCTAssertEqual(price.encode([.text("cheap")]), [0])

        let text = try FeatureEncoder.fit(FeatureColumn(name: "title", kind: .text, buckets: 16), values: [])
        let rows = text.encode([.text("Toy Story, toy")])
        XCTAssertEqual(rows.count, 2, "tokens lower-cased and deduplicated")
        XCTAssertTrue(rows.allSatisfy { (1...16).contains($0) })

        let hour = try FeatureEncoder.fit(FeatureColumn(name: "hour", kind: .hour), values: [])
        XCTAssertEqual(hour.encode([.number(1_700_000_000)]), [1 + 22], "2023-11-14 22:13 UTC")
        XCTAssertEqual(hour.encode([.number(21)]), [22], "an hour given as such")
        XCTAssertEqual(hour.encode([.number(30)]), [0], "neither an hour nor a timestamp")
        let weekday = try FeatureEncoder.fit(FeatureColumn(name: "weekday", kind: .weekday), values: [])
        XCTAssertEqual(weekday.encode([.number(1_700_000_000)]), [1 + 1], "a Tuesday")
        XCTAssertEqual(weekday.encode([.text("Saturday")]), [1 + 5])
        XCTAssertEqual(weekday.encode([.number(6)]), [7])
        // The allocation-free single-value path agrees with the general one.
        for (encoder, value) in [(genre, FeatureValue.text("a")), (genre, .text(" b ")), (genre, .text("zzz")), (genre, .number(3)),
                                 (price, .number(60)), (price, .text("x")), (hour, .number(1_700_000_000)), (hour, .text("7")),
                                 (weekday, .text("sun")), (weekday, .number(9))] {
            XCTAssertEqual(encoder.singleRow(value), encoder.encode([value])[0], "\(encoder.name) \(value)")
        }
    }

    func testEncoderRoundTripsThroughItsBinaryForm() throws {
        for encoder in [try FeatureEncoder.fit(FeatureColumn(name: "tags", column: "t", kind: .tags, separator: ";", minCount: 2), values: [[.text("a;b")], [.text("b")], [.text("a")]]),
                        try FeatureEncoder.fit(FeatureColumn(name: "p", kind: .numeric, buckets: 3), values: (0..<9).map { [.number(Double($0))] }),
                        try FeatureEncoder.fit(FeatureColumn(name: "w", kind: .weekday), values: [])] {
            var w = BinaryWriter()
            encoder.write(to: &w)
            let bytes = w.bytes
            let back = try bytes.withUnsafeBytes { raw in
                var r = BinaryReader(raw)
                return try FeatureEncoder.read(from: &r)
            }
            XCTAssertEqual(back, encoder)
            // Truncated anywhere: refused, never a crash.
            for cut in stride(from: 0, to: bytes.count, by: 3) {
                XCTAssertThrowsError(try Array(bytes[0..<cut]).withUnsafeBytes { raw in
                    var r = BinaryReader(raw)
                    return try FeatureEncoder.read(from: &r)
                })
            }
        }
    }

    func testSchemaFileIsCheckedStrictly() throws {
        let dir = TemporaryDirectory()
        for (text, expected) in [
            ("[]", "JSON object"),
            ("{\"itms\": []}", "unknown member 'itms'"),
            ("{\"items\": [{\"file\": \"x.csv\"}]}", "'file' and 'id'"),
            ("{\"items\": [{\"file\": \"x.csv\", \"id\": \"i\", \"columns\": [{\"name\": \"g\", \"type\": \"colour\"}]}]}", "unknown type 'colour'"),
            ("{\"items\": [{\"file\": \"x.csv\", \"id\": \"i\", \"columns\": [{\"name\": \"g\", \"type\": \"hour\"}]}]}", "context types"),
            ("{\"context\": [{\"name\": \"d\", \"type\": \"tags\"}]}", nil),
            ("{\"users\": [{\"file\": \"u\", \"id\": \"i\", \"columns\": [{\"name\": \"a\", \"type\": \"numeric\", \"buckets\": 0}]}]}", "buckets"),
            ("{\"users\": [{\"file\": \"u\", \"id\": \"i\", \"columns\": [{\"name\": \"a\", \"type\": \"numeric\", \"colour\": 1}]}]}", "unknown column member 'colour'"),
            ("{\"users\": [{\"file\": \"u\", \"id\": \"i\", \"columns\": [{\"name\": \"a\", \"type\": \"numeric\"}, {\"name\": \"a\", \"type\": \"text\"}]}]}", "two columns"),
            ("not json", "not JSON"),
        ] as [(String, String?)] {
            let path = dir.write("s.json", text: text)
            guard let expected else {
                XCTAssertNoThrow(try FeatureSchema.read(path: path), text)
                continue
            }
            XCTAssertThrowsError(try FeatureSchema.read(path: path), text) {
                XCTAssertTrue("\($0)".contains(expected), "\(text): \($0)")
            }
        }
        XCTAssertThrowsError(try FeatureSchema.read(path: dir.file("missing.json")))
    }

    func testSchemaReadsFeatureFilesContextAndInfersUndeclaredColumns() throws {
        let dir = TemporaryDirectory()
        let schema = FeatureFixtures.write(to: dir)
        let data = try InteractionData.read(source(dir, schema: schema))
        XCTAssertEqual(data.itemFeatures.map(\.name), ["genre", "tags", "price", "blurb"])
        XCTAssertEqual(data.userFeatures.map(\.name), ["segment"])
        XCTAssertEqual(data.contextEncoders.map(\.name), ["hour", "weekday", "device"])
        XCTAssertEqual(data.contextEncoders[2].vocabulary, ["mobile", "tv", "web"])
        // Item 500 + 5: genre g1, tags t1 and common.
        let row = data.itemIds.firstIndex(of: 505)!
        XCTAssertEqual(data.itemFeatures[0].indices(of: row).map { data.itemEncoders[0].vocabulary[Int($0) - 1] }, ["g1"])
        XCTAssertEqual(Set(data.itemFeatures[1].indices(of: row).map { data.itemEncoders[1].vocabulary[Int($0) - 1] }), ["t1", "common"])
        // The sequence is in time order with one context row per field; hour j of the user's day.
        XCTAssertEqual(data.sequence.contextWidth, 3)
        XCTAssertEqual(data.sequence.items.count, data.train.count)
        let u = 0
        let hours = data.sequence.entries(of: u).map { data.sequence.context[$0 * 3] }
        // One interaction an hour: consecutive hours of the day (rows are 1 + hour).
        for (a, b) in zip(hours, hours.dropFirst()) { XCTAssertEqual(Int(b) - 1, Int(a) % 24, "time order: \(hours)") }
        XCTAssertEqual(data.testContext.count, data.userCount * 3)
        XCTAssertTrue(data.testContext.allSatisfy { $0 >= 0 })

        // Columns left undeclared are inferred, and the choice is noted.
        let inferred = dir.write("inferred.json", text: "{\"items\": [{\"file\": \"items.csv\", \"id\": \"item\"}], \"users\": [{\"file\": \"users.jsonl\", \"id\": \"user\"}]}")
        let guessed = try InteractionData.read(source(dir, schema: inferred))
        XCTAssertEqual(guessed.itemEncoders.map(\.kind), [.categorical, .tags, .numeric, .text])
        XCTAssertEqual(guessed.userEncoders.map(\.kind), [.categorical, .numeric])
        XCTAssertEqual(guessed.notes.count, 2)
        XCTAssertTrue(guessed.notes[0].contains("genre categorical, tags tags, price numeric, blurb text"), guessed.notes[0])

        // A schema naming a column the file lacks is refused with the header.
        let wrong = dir.write("wrong.json", text: "{\"items\": [{\"file\": \"items.csv\", \"id\": \"item\", \"columns\": [{\"name\": \"colour\", \"type\": \"categorical\"}]}]}")
        XCTAssertThrowsError(try InteractionData.read(source(dir, schema: wrong))) {
            guard case let .missingColumn(_, column, _) = $0 as? InteractionError else { return XCTFail("\($0)") }
            XCTAssertEqual(column, "colour")
        }
        // Context from the timestamp needs one.
        var noTime = source(dir, schema: schema)
        noTime.timeColumn = nil
        XCTAssertThrowsError(try InteractionData.read(noTime)) { XCTAssertTrue("\($0)".contains("--time-column"), "\($0)") }
    }

    func testColdUsersAndItemsAreHeldOutOfTrainingEntirely() throws {
        let dir = TemporaryDirectory()
        var s = FeatureFixtures.source(in: dir, coldUsers: 0.1, coldItems: 0.1)
        let data = try InteractionData.read(s)
        let users = try XCTUnwrap(data.coldUsers), items = try XCTUnwrap(data.coldItems)
        XCTAssertEqual(users.ids.count, 16)
        XCTAssertEqual(items.ids.count, 8)
        XCTAssertTrue(Set(users.ids).isDisjoint(with: data.userIds), "cold users are not the model's users")
        XCTAssertTrue(Set(items.ids).isDisjoint(with: data.itemIds), "cold items are not the model's items")
        XCTAssertEqual(data.userCount, 144)
        // Every cold user: earlier items as history, later ones as targets, disjoint; the
        // context is that of the first target.
        for r in 0..<users.ids.count {
            let history = Set(users.history.items[users.history.entries(of: r)]), targets = Set(users.targets.items(of: r))
            XCTAssertFalse(targets.isEmpty)
            XCTAssertTrue(history.isDisjoint(with: targets))
        }
        XCTAssertEqual(users.features.count, 1)
        XCTAssertEqual(users.features[0].entityCount, 16)
        XCTAssertEqual(users.context.count, 16 * 3)
        XCTAssertEqual(items.features.map(\.name), ["genre", "tags", "price", "blurb"])
        XCTAssertGreaterThan(items.targets.count, 0)
        // Same seed, same choice; the per-user split of the others does not depend on it.
        XCTAssertEqual(try InteractionData.read(s).coldUsers?.ids, users.ids)
        s.splitSeed = 99
        XCTAssertNotEqual(try InteractionData.read(s).coldUsers?.ids, users.ids)
        s.coldUserFraction = 1.5
        XCTAssertThrowsError(try InteractionData.read(s))
    }

    func testFeatureTablesReadCSVAndJSONLinesStrictly() throws {
        let dir = TemporaryDirectory()
        let csv = dir.write("f.csv", text: "id,tag\n1,a\n1,b\n2,\n")
        let table = try FeatureTable.read(path: csv, idColumn: "id")
        XCTAssertEqual(table.values("tag", of: 1), [.text("a"), .text("b")], "several rows of an id accumulate")
        XCTAssertEqual(table.values("tag", of: 2), [], "an empty cell is missing")
        XCTAssertThrowsError(try FeatureTable.read(path: dir.write("g.csv", text: "id,tag\n1,a,b\n"), idColumn: "id")) {
            guard case let .badLine(_, line, _) = $0 as? InteractionError else { return XCTFail("\($0)") }
            XCTAssertEqual(line, 2)
        }
        XCTAssertThrowsError(try FeatureTable.read(path: dir.write("h.csv", text: "id,tag\nx,a\n"), idColumn: "id"))
        let jsonl = dir.write("f.jsonl", text: "{\"id\":3,\"tags\":[\"x\",\"y\"],\"n\":2.5,\"ok\":true,\"none\":null}\n\n")
        let j = try FeatureTable.read(path: jsonl, idColumn: "id")
        XCTAssertEqual(j.values("tags", of: 3), [.list(["x", "y"])])
        XCTAssertEqual(j.values("n", of: 3), [.number(2.5)])
        XCTAssertEqual(j.values("ok", of: 3), [.text("true")])
        XCTAssertEqual(j.values("none", of: 3), [])
        for bad in ["{\"tags\":[1]}\n", "{\"id\":1,\"x\":{\"a\":1}}\n", "{\"id\":1,\"x\":[[1]]}\n", "{\"id\":1,\"id\":2}\n", "{\"id\":-1}\n", "nope\n"] {
            XCTAssertThrowsError(try FeatureTable.read(path: dir.write("b.jsonl", text: bad), idColumn: "id"), bad)
        }
        XCTAssertThrowsError(try FeatureTable.read(path: dir.file("missing.csv"), idColumn: "id"))
    }
}
