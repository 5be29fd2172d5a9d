import ShortlistCore
import ShortlistIndex
import XCTest

/// `PayloadIndex` against a plain evaluation of the same filter over the same payloads.
final class PayloadIndexTests: XCTestCase {
    typealias Fields = [String: [PayloadValue]]

    /// The definition, written plainly over every item's fields.
    private func reference(_ f: PayloadFilter, _ items: [UInt64: Fields]) -> Set<UInt64> {
        func holds(_ f: PayloadFilter, _ id: UInt64, _ fields: Fields) -> Bool {
            switch f {
            case let .group(must, should, mustNot):
                return must.allSatisfy { holds($0, id, fields) } && (should.isEmpty || should.contains { holds($0, id, fields) })
                    && !mustNot.contains { holds($0, id, fields) }
            case let .match(field, values):
                return (fields[field] ?? []).contains { v in values.contains { $0 == v } }
            case let .range(field, gt, gte, lt, lte):
                return (fields[field] ?? []).contains { v in
                    guard case let .number(x) = v else { return false }
                    return (gt.map { x > $0 } ?? true) && (gte.map { x >= $0 } ?? true) && (lt.map { x < $0 } ?? true) && (lte.map { x <= $0 } ?? true)
                }
            case let .isNull(field): return (fields[field] ?? []).isEmpty
            case let .hasId(ids): return ids.contains(id)
            }
        }
        return Set(items.filter { holds(f, $0.key, $0.value) }.map(\.key))
    }

    /// The ids of `universe` that pass `f`, through `rows(passing:)` with row = id for the
    /// universe's ids (others have no row, as ids an index does not hold).
    private func evaluate(_ index: PayloadIndex, _ f: PayloadFilter, universe: Set<UInt64>,
                          cache: PayloadRowCache = PayloadRowCache(), generation: UInt64 = 0) throws -> Set<UInt64> {
        let rows = Int(universe.max() ?? 0) + 1
        let bitmap = try index.rows(passing: f, rows: rows, row: { universe.contains($0) ? Int($0) : nil }, cache: cache, generation: generation)
        var out = Set<UInt64>()
        bitmap.forEachRow { if universe.contains(UInt64($0)) { out.insert(UInt64($0)) } }
        return out
    }

    func testMatchesThePlainEvaluationOnRandomPayloadsAndFilters() throws {
        var g = SeededGenerator(seed: 8)
        let colours: [PayloadValue] = ["red", "green", "blue", "grey"].map { .string($0) }
        func randomFields() -> Fields {
            var f: Fields = [:]
            if g.next() % 5 != 0 { f["colour"] = [colours[Int(g.next() % 4)]] }
            if g.next() % 3 != 0 { f["tags"] = (0..<Int(g.next() % 3)).map { _ in colours[Int(g.next() % 4)] } }
            if g.next() % 4 != 0 { f["price"] = [.number(Double(g.next() % 100))] }
            if g.next() % 2 == 0 { f["new"] = [.bool(g.next() % 2 == 0)] }
            return f
        }
        func randomFilter(_ depth: Int) -> PayloadFilter {
            switch g.next() % (depth > 2 ? 4 : 5) {
            case 0: return .match(field: ["colour", "tags"][Int(g.next() % 2)], values: (0...Int(g.next() % 2)).map { _ in colours[Int(g.next() % 4)] })
            case 1:
                let a = Double(g.next() % 100)
                return .range(field: "price", gt: g.next() % 2 == 0 ? a : nil, gte: nil, lt: nil, lte: g.next() % 2 == 0 ? a + 30 : nil)
            case 2: return .isNull(field: ["colour", "tags", "new"][Int(g.next() % 3)])
            case 3: return g.next() % 2 == 0 ? .hasId(Set((0..<10).map { _ in g.next() % 200 })) : .match(field: "new", values: [.bool(true)])
            default:
                return .group(must: (0..<Int(g.next() % 3)).map { _ in randomFilter(depth + 1) },
                              should: (0..<Int(g.next() % 3)).map { _ in randomFilter(depth + 1) },
                              mustNot: (0..<Int(g.next() % 2)).map { _ in randomFilter(depth + 1) })
            }
        }
        var index = PayloadIndex()
        var items: [UInt64: Fields] = [:]
        for id in UInt64(0)..<200 {
            let f = randomFields()
            items[id] = f
            index.set(id, fields: f)
        }
        // Changes: replaced, emptied and removed payloads must leave nothing behind.
        for _ in 0..<150 {
            let id = g.next() % 200
            switch g.next() % 3 {
            case 0: let f = randomFields(); items[id] = f; index.set(id, fields: f)
            case 1: items[id] = [:]; index.set(id, fields: [:])
            default: items[id] = [:]; index.remove(id)
            }
        }
        // One cache for every trial: postings built by one filter serve the next ones.
        let cache = PayloadRowCache()
        var universe = Set(items.keys)
        for trial in 0..<400 {
            let f = randomFilter(0)
            XCTAssertEqual(try evaluate(index, f, universe: universe, cache: cache), reference(f, items), "trial \(trial): \(f)")
        }
        XCTAssertGreaterThan(cache.count, 0)
        // A cache bounded to three bitmaps (200 rows: 32 bytes each) forgets and rebuilds.
        let tiny = PayloadRowCache(maximumBytes: 96)
        for trial in 0..<100 {
            let f = randomFilter(0)
            XCTAssertEqual(try evaluate(index, f, universe: universe, cache: tiny), reference(f, items), "tiny cache: trial \(trial): \(f)")
            XCTAssertLessThanOrEqual(tiny.count, 3)
        }
        // After a change (a new generation) the cached rows are not reused.
        for id in UInt64(0)..<100 { items[id] = nil; index.remove(id); universe.remove(id) }
        for trial in 0..<100 {
            let f = randomFilter(0)
            XCTAssertEqual(try evaluate(index, f, universe: universe, cache: cache, generation: 1), reference(f, items), "after: trial \(trial): \(f)")
        }
    }

    func testNumbersAndStringsMatchEachOtherAndUnknownFieldsAreRefused() throws {
        var index = PayloadIndex()
        index.set(1, fields: ["year": [.number(1999)], "code": [.string("7")]])
        index.set(2, fields: ["year": [.number(2001.5)]])
        XCTAssertEqual(try evaluate(index, .match(field: "year", values: [.string("1999")]), universe: [1, 2]), [1])
        XCTAssertEqual(try evaluate(index, .match(field: "code", values: [.number(7)]), universe: [1, 2]), [1])
        XCTAssertEqual(try evaluate(index, .range(field: "year", gt: 2000, gte: nil, lt: nil, lte: nil), universe: [1, 2]), [2])
        XCTAssertEqual(try evaluate(index, .isNull(field: "code"), universe: [1, 2]), [2])
        XCTAssertEqual(try evaluate(index, .match(field: "year", values: [.number(1999)]), universe: [2]), [], "only the universe")
        XCTAssertThrowsError(try evaluate(index, .match(field: "colour", values: [.string("red")]), universe: [1])) {
            XCTAssertEqual("\($0)", "no payload has field 'colour'; fields: code, year")
        }
        index.remove(1)
        XCTAssertEqual(index.fieldNames, ["year"], "a field no payload holds is gone")
    }

    func testFieldTypesAreInferredFromTheValues() {
        var index = PayloadIndex()
        index.set(1, fields: ["genre": [.string("drama")], "tags": [.string("a")], "year": [.number(1999)], "rating": [.number(4)], "new": [.bool(true)], "odd": [.string("x")]])
        index.set(2, fields: ["genre": [.string("comedy")], "tags": [.string("a"), .string("b")], "year": [.number(2001)], "rating": [.number(3.5)], "odd": [.number(1)]])
        let s = index.summary()
        XCTAssertEqual(s["genre"], .init(type: "keyword", items: 2, values: 2))
        XCTAssertEqual(s["tags"], .init(type: "keyword_list", items: 2, values: 2))
        XCTAssertEqual(s["year"], .init(type: "integer", items: 2, values: 2))
        XCTAssertEqual(s["rating"], .init(type: "float", items: 2, values: 2))
        XCTAssertEqual(s["new"], .init(type: "bool", items: 1, values: 1))
        XCTAssertEqual(s["odd"], .init(type: "mixed", items: 2, values: 2))
        index.remove(2)
        XCTAssertEqual(index.summary()["tags"]?.type, "keyword", "a list no more")
    }
}
