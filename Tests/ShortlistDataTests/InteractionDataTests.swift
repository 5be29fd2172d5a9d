import Foundation
import ShortlistCore
import ShortlistData
import ShortlistTestSupport
import XCTest

final class InteractionDataTests: XCTestCase {
    func testLightGCNLayoutUsesIdsAsRows() throws {
        let dir = TemporaryDirectory()
        _ = dir.write("train.txt", text: "0 1 2 2\n1 0\n\n3 4\n")
        _ = dir.write("valid.txt", text: "0 3\n")
        _ = dir.write("test.txt", text: "1 4\r\n2 5\n")
        let data = try InteractionData.read(InteractionSource(format: .lightgcn, path: dir.path))
        XCTAssertEqual(data.userCount, 4)
        XCTAssertEqual(data.itemCount, 6)
        XCTAssertEqual(data.userIds, [0, 1, 2, 3])
        XCTAssertEqual(Array(data.train.items(of: 0)), [1, 2], "duplicates collapse")
        XCTAssertEqual(data.train.count, 4)
        XCTAssertEqual(Array(data.valid.items(of: 0)), [3])
        XCTAssertEqual(Array(data.test.items(of: 2)), [5])
        XCTAssertEqual(data.train.itemFrequencies(itemCount: 6), [1, 1, 1, 0, 1, 0])
        XCTAssertTrue(data.train.union(data.valid).contains(user: 0, item: 3))
    }

    func testPairsFileIsSplitPerUserReproducibly() throws {
        let dir = TemporaryDirectory()
        var text = ""
        for u in 0..<50 { for i in 0..<20 where (u + i) % 2 == 0 { text += "\(u) \(i) 1.0\n" } }
        text += "50 1 0\n50 2 0\n"   // weight 0: not a positive
        let path = dir.write("pairs.txt", text: text)
        var source = InteractionSource(format: .pairs, path: path)
        source.splitSeed = 5
        let a = try InteractionData.read(source), b = try InteractionData.read(source)
        XCTAssertEqual(a.train, b.train)
        XCTAssertEqual(a.test, b.test)
        XCTAssertEqual(a.train.count + a.valid.count + a.test.count, 500)
        for u in 0..<50 {
            XCTAssertEqual(a.valid.degree(of: u), 1)
            XCTAssertEqual(a.test.degree(of: u), 1)
            for i in a.test.items(of: u) { XCTAssertFalse(a.train.contains(user: u, item: i)) }
        }
        source.splitSeed = 6
        XCTAssertNotEqual(try InteractionData.read(source).test, a.test, "another seed, another split")
    }

    func testCSVWithNamedColumnsRatingThresholdAndTimeSplit() throws {
        let dir = TemporaryDirectory()
        var text = "ts;who;what;stars\n"
        for u in 0..<4 { for i in 0..<10 { text += "\(u * 100 + i);\(1000 + u);\(77 + i);\(i % 5 + 1)\n" } }
        let path = dir.write("log.csv", text: text)
        var source = InteractionSource(format: .csv, path: path)
        source.userColumn = "who"
        source.itemColumn = "what"
        source.ratingColumn = "stars"
        source.timeColumn = "ts"
        source.minRating = 3
        source.splitByTime = true
        source.validFraction = 0.2
        source.testFraction = 0.2
        let data = try InteractionData.read(source)
        XCTAssertEqual(data.userIds, [1000, 1001, 1002, 1003])
        // Items with stars ≥ 3: i % 5 ∈ {2, 3, 4}: i = 2, 3, 4, 7, 8, 9 → 6 per user.
        XCTAssertEqual(data.itemIds, [79, 80, 81, 84, 85, 86])
        for u in 0..<4 {
            XCTAssertEqual(data.test.items(of: u).map { data.itemIds[Int($0)] }, [86], "the latest is held out for test")
            XCTAssertEqual(data.valid.items(of: u).map { data.itemIds[Int($0)] }, [85])
        }
        source.itemColumn = "item"
        XCTAssertThrowsError(try InteractionData.read(source)) {
            XCTAssertEqual($0 as? InteractionError, .missingColumn(path: path, column: "item", header: ["ts", "who", "what", "stars"]))
        }
    }

    func testSeenItemsAreTrainingThenValidationInTimeOrder() throws {
        let dir = TemporaryDirectory()
        // One user, items 1…10 rated at decreasing times: item 10 first, item 1 last.
        var text = "user,item,t\n"
        for i in 1...10 { text += "7,\(i),\(1000 - i)\n" }
        var source = InteractionSource(format: .csv, path: dir.write("log.csv", text: text))
        source.timeColumn = "t"
        source.splitByTime = true
        source.validFraction = 0.3
        source.testFraction = 0.2
        let data = try InteractionData.read(source)
        let ids = { (rows: ArraySlice<Int32>) in rows.map { data.itemIds[Int($0)] } }
        XCTAssertEqual(ids(data.sequence.items[data.sequence.entries(of: 0)]), [10, 9, 8, 7, 6], "training items, oldest first")
        XCTAssertEqual(ids(data.seenSequence.items[data.seenSequence.entries(of: 0)]), [10, 9, 8, 7, 6, 5, 4, 3],
                       "then the validation items, also oldest first (not by id)")
        XCTAssertEqual(data.test.items(of: 0).map { data.itemIds[Int($0)] }, [1, 2])
    }

    func testMovieLensLatestLayoutWithQuotedTitlesAndGenres() throws {
        let dir = TemporaryDirectory()
        _ = dir.write("ratings.csv", text: "userId,movieId,rating,timestamp\n1,10,5.0,1\n1,20,4.0,2\n1,30,1.0,3\n2,10,4.5,4\n2,30,4.0,5\n")
        _ = dir.write("movies.csv", text: "movieId,title,genres\n10,\"American President, The (1995)\",Comedy|Drama|Romance\n20,Heat (1995),Action|Crime\n30,Nothing (2000),(no genres listed)\n")
        let data = try InteractionData.read(InteractionSource(format: .movielens, path: dir.path))
        XCTAssertEqual(data.itemIds, [10, 20, 30])
        XCTAssertEqual(data.itemTitles, ["American President, The (1995)", "Heat (1995)", "Nothing (2000)"])
        XCTAssertEqual(data.itemFeatures.map(\.name), ["genres", "title"])
        let genres = data.itemFeatures[0]
        XCTAssertEqual(genres.vocabularySize, 6)   // out of vocabulary, Action Comedy Crime Drama Romance
        XCTAssertEqual(Array(genres.indices(of: 0)), [2, 4, 5])
        XCTAssertEqual(Array(genres.indices(of: 2)), [0], "no genres: the missing row")
        XCTAssertEqual(data.itemEncoders.map(\.kind), [.tags, .text])
        XCTAssertEqual(data.itemFeatures[1].indices(of: 0).count, 4, "american, president, the, 1995")
        XCTAssertTrue(data.userFeatures.isEmpty)
        XCTAssertEqual(data.train.count + data.valid.count + data.test.count, 4, "the 1-star rating is not a positive")
    }

    func testMovieLens100KLayoutWithUserFeatures() throws {
        let dir = TemporaryDirectory()
        _ = dir.write("u.data", text: "1\t1\t5\t100\n1\t2\t4\t101\n2\t1\t4\t102\n")
        _ = dir.write("u.item", text: "1|Toy Story (1995)|01-Jan-1995||http://x|0|0|0|1|1\n2|GoldenEye (1995)|01-Jan-1995||http://y|0|1|1|0|0\n")
        _ = dir.write("u.genre", text: "unknown|0\nAction|1\nAdventure|2\nAnimation|3\nChildren's|4\n")
        _ = dir.write("u.user", text: "1|24|M|technician|85711\n2|53|F|other|94043\n")
        let data = try InteractionData.read(InteractionSource(format: .movielens, path: dir.path))
        XCTAssertEqual(data.userFeatures.map(\.name), ["age", "gender", "occupation"])
        XCTAssertEqual(data.userFeatures[1].vocabularySize, 3, "out of vocabulary, F, M")
        XCTAssertEqual(Array(data.userFeatures[0].indices(of: 0)), [1], "24 is in the 18–24 group, the first known value")
        let genres = data.itemFeatures[0]
        XCTAssertEqual(Array(genres.indices(of: 0)).count, 2, "Animation, Children's")
        XCTAssertEqual(Array(genres.indices(of: 1)).count, 2, "Action, Adventure")
    }

    /// A gzip file (two members, as `cat a.gz b.gz` makes) reads as its text; a cut or corrupted
    /// one is refused, naming the file.
    func testGzipInputReadsAsItsTextAndBadStreamsAreRefused() throws {
        let dir = TemporaryDirectory()
        let text = (0..<6).flatMap { u in stride(from: u % 3, to: 8, by: 2).map { "\(u) \($0)\n" } }.joined()
        // Python: gzip.compress(text[:30], mtime=0) + gzip.compress(text[30:], mtime=0).
        let gz = Array(Data(base64Encoded: "H4sIAAAAAAACAzNQMOAyUDACYhMgNuMyVDAEYmMgNgViABYAyMkeAAAAH4sIAAAAAAACAw3JuQEAMAgDsd5TMEJ4DPtvlitU6VRRGKw6HgqD1USiYZzMmTP3AR8X36I6AAAA")!)
        let plain = try InteractionData.read(InteractionSource(format: .pairs, path: dir.write("plain.txt", text: text)))
        let packed = try InteractionData.read(InteractionSource(format: .pairs, path: dir.write("packed.txt.gz", gz)))
        XCTAssertEqual(packed.train.count + packed.valid.count + packed.test.count, 22)
        XCTAssertEqual(packed.train, plain.train)
        XCTAssertEqual(packed.test, plain.test)
        let split = TemporaryDirectory()
        _ = split.write("train.txt.gz", gz)
        XCTAssertEqual(try InteractionData.read(InteractionSource(format: .pairs, path: split.path)).train.count, 22, "train.txt.gz in a folder")
        var corrupted = gz
        corrupted[14] ^= 0xFF
        for (name, bytes, reason) in [("cut.gz", Array(gz[..<40]), "truncated"), ("bad.gz", corrupted, "gzip:")] {
            XCTAssertThrowsError(try InteractionData.read(InteractionSource(format: .pairs, path: dir.write(name, bytes)))) {
                guard case let .readFailed(path, message)? = $0 as? FileError else { return XCTFail("\($0)") }
                XCTAssert(path.hasSuffix(name) && message.contains(reason), message)
            }
        }
    }

    func testMalformedInputIsRefusedWithTheLine() throws {
        let dir = TemporaryDirectory()
        _ = dir.write("train.txt", text: "0 1\n1 x\n")
        XCTAssertThrowsError(try InteractionData.read(InteractionSource(format: .lightgcn, path: dir.path))) {
            guard case let .badLine(_, line, reason) = $0 as? InteractionError else { return XCTFail("\($0)") }
            XCTAssertEqual(line, 2)
            XCTAssertTrue(reason.contains("'x'"), reason)
        }
        XCTAssertThrowsError(try InteractionData.read(InteractionSource(format: .movielens, path: dir.path))) {
            guard case .missingFile = $0 as? InteractionError else { return XCTFail("\($0)") }
        }
        let pairs = dir.write("p.txt", text: "1 2 3 4\n")
        XCTAssertThrowsError(try InteractionData.read(InteractionSource(format: .pairs, path: pairs)))
        let empty = dir.write("e.csv", text: "user,item,rating\n1,2,1\n")
        var source = InteractionSource(format: .csv, path: empty)
        source.ratingColumn = "rating"
        XCTAssertThrowsError(try InteractionData.read(source)) {
            guard case .empty = $0 as? InteractionError else { return XCTFail("\($0)") }
        }
        source.validFraction = 0.7
        source.testFraction = 0.5
        XCTAssertThrowsError(try InteractionData.read(source)) {
            guard case .badSplit = $0 as? InteractionError else { return XCTFail("\($0)") }
        }
    }

    func testSourceDescriptionRoundTrips() throws {
        var s = InteractionSource(format: .csv, path: "/a b/c.csv")
        s.ratingColumn = "r"
        s.splitByTime = true
        s.minRating = 3.5
        XCTAssertEqual(try InteractionSource(serialized: s.serialized), s)
        XCTAssertThrowsError(try InteractionSource(serialized: s.serialized + "bogus=1\n"))
        XCTAssertThrowsError(try InteractionSource(serialized: "format=nope\n"))
    }
}
