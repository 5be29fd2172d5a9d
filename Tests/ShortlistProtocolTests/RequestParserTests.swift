import ShortlistCore
import ShortlistData
import ShortlistTestSupport
import XCTest
@testable import ShortlistProtocol

final class RequestParserTests: XCTestCase {
    private var limits: ServerLimits {
        var l = ServerLimits()
        l.maximumBatch = 3
        l.maximumItems = 4
        l.maximumK = 100
        return l
    }

    private func parse(_ text: String) -> RequestParser.Outcome {
        Array(text.utf8).withUnsafeBufferPointer { RequestParser(limits: limits).parse($0) }
    }

    private func request(_ text: String, file: StaticString = #filePath, line: UInt = #line) -> RequestLine? {
        switch parse(text) {
        case let .request(r): return r
        case let .failure(_, e):
            XCTFail("\(text): \(e)", file: file, line: line)
            return nil
        }
    }

    private func assertError(_ text: String, _ code: ProtocolError.Code, id: String? = nil, file: StaticString = #filePath, line: UInt = #line) {
        switch parse(text) {
        case .request: XCTFail("\(text) was accepted", file: file, line: line)
        case let .failure(gotId, e):
            XCTAssertEqual(e.code, code, "\(text): \(e.message)", file: file, line: line)
            XCTAssertFalse(e.message.isEmpty)
            if let id { XCTAssertEqual(gotId.map { String(decoding: $0, as: UTF8.self) }, id, text, file: file, line: line) }
        }
    }

    func testRecommendReadsHistoryFeaturesAndContext() throws {
        let r = try XCTUnwrap(request(#"{"id":3,"op":"recommend","collection":"m","history":[5,7,9],"features":{"age":31,"tags":["a","b"],"vip":true,"none":null},"context":{"hour":21,"device":"tv"},"k":5,"exclude_seen":true}"#))
        XCTAssertNil(r.userId)
        XCTAssertEqual(r.history, [5, 7, 9])
        XCTAssertEqual(r.features, ["age": .number(31), "tags": .list(["a", "b"]), "vip": .text("true")], "null members are left out")
        XCTAssertEqual(r.context, ["hour": .number(21), "device": .text("tv")])
        XCTAssertEqual(try XCTUnwrap(request(#"{"op":"recommend","collection":"m","user_id":4}"#)).userId, 4)
        // Bad shapes are refused with the request's id; the rest of the line is still read.
        assertError(#"{"op":"recommend","collection":"m","features":{"a":{"b":1}},"id":8}"#, .invalidRequest, id: "8")
        assertError(#"{"op":"recommend","collection":"m","features":{"a":[[1]]},"id":9}"#, .invalidRequest, id: "9")
        assertError(#"{"op":"recommend","collection":"m","features":{"a":[true]},"id":10}"#, .invalidRequest, id: "10")
        assertError(#"{"op":"recommend","collection":"m","context":"hour=21","id":11}"#, .invalidRequest, id: "11")
        assertError(#"{"op":"recommend","collection":"m","context":{"h":1,"h":2}}"#, .invalidRequest)
        assertError(#"{"op":"recommend","collection":"m","history":[1,2,3,4,5]}"#, .tooLarge)
        let many = (0..<65).map { "\"f\($0)\":1" }.joined(separator: ",")
        assertError(#"{"op":"recommend","collection":"m","features":{"# + many + "}}", .tooLarge)
        // Only recommend takes them; a point takes features instead of a vector, not both.
        assertError(#"{"op":"search","collection":"m","vector":[1],"history":[1]}"#, .unknownField)
        let up = try XCTUnwrap(request(#"{"op":"upsert","collection":"m","points":[{"id":1,"features":{"genre":"x"}},{"id":2,"vector":[1]}]}"#))
        XCTAssertEqual(up.points.map(\.features), [["genre": .text("x")], nil])
        XCTAssertEqual(up.points[0].vector, [])
        assertError(#"{"op":"upsert","collection":"m","points":[{"id":1,"features":{"genre":"x"},"vector":[1]}]}"#, .invalidRequest)
        assertError(#"{"op":"upsert","collection":"m","points":[{"id":1}]}"#, .invalidRequest)
    }

    func testSearchParsesEveryMember() throws {
        let r = try XCTUnwrap(request(#"{"id":{"a":[1,2]},"op":"search","collection":"items","vector":[1, -2.5, 3e-3],"k":7,"params":{"ef":64,"nprobe":16,"rerank":4},"filter":{"exclude_ids":[5,6]},"with_payload":true}"#))
        XCTAssertEqual(r.op, .search)
        XCTAssertEqual(r.id.map { String(decoding: $0, as: UTF8.self) }, #"{"a":[1,2]}"#)
        XCTAssertEqual(r.collection, "items")
        XCTAssertEqual(r.vector, [1, -2.5, 0.003])
        XCTAssertEqual(r.k, 7)
        XCTAssertEqual(r.parameters.ef, 64)
        XCTAssertEqual(r.parameters.nprobe, 16)
        XCTAssertEqual(r.parameters.rerank, 4)
        XCTAssertEqual(r.excludeIds, [5, 6])
        XCTAssertNil(r.includeIds)
        XCTAssertTrue(r.withPayload)
    }

    func testOtherOpsParse() throws {
        let batch = try XCTUnwrap(request(#"{"op":"search_batch","collection":"c","vectors":[[1,2],[3,4]],"filter":{"include_ids":[1]}}"#))
        XCTAssertEqual(batch.vectors, [1, 2, 3, 4])
        XCTAssertEqual(batch.vectorCount, 2)
        XCTAssertEqual(batch.includeIds, [1])
        let up = try XCTUnwrap(request(#"{"op":"upsert","collection":"c","points":[{"id":18446744073709551615,"vector":[1],"payload":{"t":"x"}},{"id":2,"vector":[2],"payload":null}]}"#))
        XCTAssertEqual(up.points.map(\.id), [UInt64.max, 2])
        XCTAssertEqual(up.points[0].payload.map { String(decoding: $0, as: UTF8.self) }, #"{"t":"x"}"#)
        XCTAssertNil(up.points[1].payload)
        XCTAssertEqual(request(#"{"op":"recommend","collection":"c","user_id":9,"exclude_seen":true}"#)?.userId, 9)
        XCTAssertEqual(request(#"{"op":"similar","collection":"c","item_id":3}"#)?.itemId, 3)
        XCTAssertEqual(request(#" { "op" : "ping" } "#)?.op, .ping)
        XCTAssertEqual(request(#"{"op":"auth","token":"s\u00e9cret"}"#)?.token, "sécret")
    }

    func testReplicationOpsRefuseWhatIsMalformed() {
        assertError(#"{"op":"replicate","collection":"c"}"#, .invalidRequest)  // no term
        assertError(#"{"op":"replicate","collection":"c","term":-1}"#, .invalidRequest)
        assertError(#"{"op":"replicate","collection":"c","term":1,"records":"AAAA"}"#, .invalidRequest)  // records need a position
        assertError(#"{"op":"replicate","collection":"c","term":1,"position":{"term":1},"records":"AAAA"}"#, .invalidRequest)
        assertError(#"{"op":"replicate","collection":"c","term":1,"position":{"term":1,"lsn":2,"x":3}}"#, .unknownField)
        assertError(#"{"op":"replicate","collection":"c","term":1,"position":{"term":1,"lsn":2},"records":"A*=="}"#, .invalidRequest)
        assertError(#"{"op":"replicate","collection":"c","term":1,"part":"index"}"#, .unknownField)
        assertError(#"{"op":"install","collection":"c","term":1,"part":"index","offset":0}"#, .invalidRequest)  // no data
        assertError(#"{"op":"install","collection":"c","term":1,"part":"wal","offset":0,"data":""}"#, .invalidRequest)
        assertError(#"{"op":"install","collection":"c","term":1,"part":"index","offset":-4,"data":""}"#, .invalidParameter)
        assertError(#"{"op":"install","collection":"c","term":1,"part":"index","offset":0,"data":"","position":{"term":1,"lsn":1}}"#, .invalidRequest)
        assertError(#"{"op":"install","collection":"c","term":1}"#, .invalidRequest)
        XCTAssertEqual(request(#"{"op":"install","collection":"c","term":2,"part":"index","offset":3,"data":"AQID"}"#)?.request,
                       .install(.init(collection: "c", term: 2, part: .index, offset: 3, data: [1, 2, 3])))
    }

    func testMalformedJSON() {
        for bad in ["", "not json", "[1,2]", "\"op\"", #"{"op":"ping""#, #"{"op":"ping"} x"#, #"{"op":"ping",}"#, #"{op:"ping"}"#,
                    #"{"op":"search","vector":[1,2,]}"#, #"{"op":"search","vector":[NaN]}"#, #"{"op":"search","vector":[Infinity]}"#,
                    String(repeating: "[", count: 10_000), #"{"op":"pi\#u{1}ng"}"#, "{\"op\":\"\u{FFFF}\"", #"{"id":"\ud800","op":"ping"}"#] {
            assertError(bad, .parseError)
        }
        // Invalid UTF-8.
        let bytes: [UInt8] = Array(#"{"op":""#.utf8) + [0xC3, 0x28] + Array(#""}"#.utf8)
        bytes.withUnsafeBufferPointer { b in
            guard case let .failure(_, e) = RequestParser(limits: limits).parse(b) else { return XCTFail("invalid UTF-8 accepted") }
            XCTAssertEqual(e.code, .parseError)
        }
    }

    func testEveryMemberProblemHasItsCode() {
        assertError(#"{"op":"fly"}"#, .unknownOp)
        assertError(#"{"id":1}"#, .invalidRequest)
        assertError(#"{"op":"ping","colour":1}"#, .unknownField)
        assertError(#"{"op":"ping","k":1}"#, .unknownField)
        assertError(#"{"op":"search","collection":"c","vector":[1],"params":{"eff":1}}"#, .unknownField)
        assertError(#"{"op":"search","collection":"c","vector":[1],"filter":{"exclude":[1]}}"#, .unknownField)
        assertError(#"{"op":"upsert","collection":"c","points":[{"id":1,"vector":[1],"extra":2}]}"#, .unknownField)
        assertError(#"{"op":"search","collection":"c"}"#, .invalidRequest)
        assertError(#"{"op":"search","vector":[1]}"#, .invalidRequest)
        assertError(#"{"op":"search","collection":"c","vector":[1],"k":"10"}"#, .invalidRequest)
        assertError(#"{"op":"search","collection":"c","vector":"1,2"}"#, .invalidVector)
        assertError(#"{"op":"search","collection":"c","vector":{"x":1}}"#, .invalidRequest)
        assertError(#"{"op":"search","collection":"c","vector":[1,"2"]}"#, .invalidRequest)
        assertError(#"{"op":"search","collection":3,"vector":[1]}"#, .invalidRequest)
        assertError(#"{"op":"search","collection":"c","vector":[1],"with_payload":1}"#, .invalidRequest)
        assertError(#"{"op":"get","collection":"c","ids":[-1]}"#, .invalidRequest)
        assertError(#"{"op":"get","collection":"c","ids":[1.5]}"#, .invalidRequest)
        assertError(#"{"op":"get","collection":"c","ids":[1e3]}"#, .invalidRequest)
        assertError(#"{"op":"get","collection":"c","ids":[18446744073709551616]}"#, .invalidRequest)
        assertError(#"{"op":"get","collection":"c","ids":7}"#, .invalidRequest)
        assertError(#"{"op":"ping","op":"info"}"#, .invalidRequest)
        assertError(#"{"op":"upsert","collection":"c","points":[{"id":1}]}"#, .invalidRequest)
        assertError(#"{"op":"upsert","collection":"c","points":[3]}"#, .invalidRequest)
        assertError(#"{"op":"search","collection":"c","vector":[1e39]}"#, .invalidVector)
        assertError(#"{"op":"search","collection":"c","vector":[-1e300]}"#, .invalidVector)
        assertError(#"{"op":"search","collection":"c","vector":[1],"k":0}"#, .invalidParameter)
        assertError(#"{"op":"search","collection":"c","vector":[1],"k":101}"#, .invalidParameter)
        assertError(#"{"op":"search","collection":"c","vector":[1],"k":2.5}"#, .invalidParameter)
        assertError(#"{"op":"search","collection":"c","vector":[1],"params":{"ef":0}}"#, .invalidParameter)
        assertError(#"{"op":"search","collection":"c","vector":[1],"params":{"nprobe":1e9}}"#, .invalidParameter)
        assertError(#"{"op":"search_batch","collection":"c","vectors":[[1],[2],[3],[4]]}"#, .tooLarge)
        assertError(#"{"op":"search_batch","collection":"c","vectors":[[1],[2,3]]}"#, .dimensionMismatch)
        assertError(#"{"op":"search_batch","collection":"c","vectors":[]}"#, .invalidRequest)
        assertError(#"{"op":"get","collection":"c","ids":[1,2,3,4,5]}"#, .tooLarge)
        assertError(#"{"op":"upsert","collection":"c","points":[{"id":1,"vector":[1]},{"id":2,"vector":[1]},{"id":3,"vector":[1]},{"id":4,"vector":[1]},{"id":5,"vector":[1]}]}"#, .tooLarge)
    }

    /// Base64 float32 vectors read exactly like decimal ones, wherever a vector is taken.
    func testBase64VectorsMatchDecimalOnes() throws {
        var generator = SeededGenerator(seed: 11)
        let values = (0..<384).map { _ in Float.random(in: -1...1, using: &generator) }
        let text = Base64Vector.encode(values)
        XCTAssertEqual(text.count, 2_048)
        let decimal = "[" + values.map { "\($0)" }.joined(separator: ",") + "]"
        let fromText = try XCTUnwrap(request(#"{"op":"search","collection":"c","vector":"# + decimal + "}"))
        let fromBase64 = try XCTUnwrap(request(#"{"op":"search","collection":"c","vector":""# + text + #""}"#))
        XCTAssertEqual(fromBase64.vector, values)
        XCTAssertEqual(fromText.vector, values)
        // Known bytes: [1, 0.5] is 00 00 80 3F 00 00 00 3F; padding is optional.
        XCTAssertEqual(request(#"{"op":"search","collection":"c","vector":"AACAPwAAAD8="}"#)?.vector, [1, 0.5])
        XCTAssertEqual(request(#"{"op":"search","collection":"c","vector":"AACAPwAAAD8"}"#)?.vector, [1, 0.5])
        // Some encoders escape '/' as "\/".
        let slash = Base64Vector.encode([Float(bitPattern: 0x3FFF_FFFC)])
        XCTAssertTrue(slash.contains("/"), slash)
        let escaped = slash.replacingOccurrences(of: "/", with: #"\/"#)
        XCTAssertEqual(request(#"{"op":"search","collection":"c","vector":""# + escaped + #""}"#)?.vector, [Float(bitPattern: 0x3FFF_FFFC)])
        let batch = try XCTUnwrap(request(#"{"op":"search_batch","collection":"c","vectors":["AACAPwAAAD8=",[3,4]]}"#))
        XCTAssertEqual(batch.vectors, [1, 0.5, 3, 4])
        let up = try XCTUnwrap(request(#"{"op":"upsert","collection":"c","points":[{"id":1,"vector":"AACAPw=="}]}"#))
        XCTAssertEqual(up.points.first?.vector, [1])
    }

    func testBadBase64VectorsAreRefused() {
        func line(_ v: String) -> String { #"{"id":5,"op":"search","collection":"c","vector":""# + v + #""}"# }
        assertError(line("AACAPwAAAD8*"), .invalidVector, id: "5")      // not in the alphabet
        assertError(line("AACA PwAAAD8="), .invalidVector, id: "5")     // space
        assertError(line("AACAPw=AAAD8"), .invalidVector, id: "5")      // padding inside
        assertError(line("AACAPwA"), .invalidVector, id: "5")           // 5 bytes: not whole floats
        assertError(line("AACAPwAAAD9="), .invalidVector, id: "5")      // non-canonical last group
        assertError(line("A"), .invalidVector, id: "5")
        assertError(line(Base64Vector.encode([1, .nan])), .invalidVector, id: "5")
        assertError(line(Base64Vector.encode([.infinity])), .invalidVector, id: "5")
        // More components than the server allows (checked before decoding).
        var small = ServerLimits()
        small.maximumDimension = 2
        let tooMany = Array(line(Base64Vector.encode([1, 2, 3])).utf8)
        tooMany.withUnsafeBufferPointer { b in
            guard case let .failure(_, e) = RequestParser(limits: small).parse(b) else { return XCTFail("3 components accepted") }
            XCTAssertEqual(e.code, .tooLarge)
        }
        // The empty string is the empty vector (refused later as a dimension mismatch).
        XCTAssertEqual(request(line(""))?.vector, [])
        assertError(#"{"op":"search","collection":"c","vector":"AACAPw"#, .parseError)
    }

    func testTheIdIsEchoedWhereverItStands() {
        assertError(#"{"id":"a-1","op":"search","collection":"c","vector":[1],"k":0}"#, .invalidParameter, id: #""a-1""#)
        assertError(#"{"op":"search","k":0,"collection":"c","vector":[1],"id":[1,{"x":null}]}"#, .invalidParameter, id: #"[1,{"x":null}]"#)
        assertError(#"{"op":"nope","id":42}"#, .unknownOp, id: "42")
        assertError(#"{"op":"search","vector":[1,"x"],"id":7,"collection":"c"}"#, .invalidRequest, id: "7")
        assertError(#"{"op":"get","collection":"c","ids":[-5, 2.5],"id":null}"#, .invalidRequest, id: "null")
    }

    /// Seeded random mutations of valid lines: the parser always answers, never crashes or hangs.
    func testRandomMutationsNeverCrash() {
        let seeds = [
            #"{"id":1,"op":"search","collection":"items","vector":[0.1,-2,3e-5],"k":5,"params":{"ef":32},"filter":{"exclude_ids":[1,2]},"with_payload":true}"#,
            #"{"op":"upsert","collection":"c","points":[{"id":4,"vector":[1,2],"payload":{"t":["a",{"b":null}]}}]}"#,
            #"{"op":"search_batch","collection":"c","vectors":[[1,2],[3,4]],"filter":{"include_ids":[9]}}"#,
            #"{"op":"auth","token":"abc\n\u00e9"}"#,
        ].map { Array($0.utf8) }
        var rng = SeededGenerator(seed: 77)
        let alphabet = Array(#"{}[],:"\-+.eE0123456789 tfnulxyz"#.utf8) + [0x00, 0xFF, 0xC3, 0x0A]
        var accepted = 0
        let parser = RequestParser(limits: limits)
        for i in 0..<30_000 {
            var line = seeds[i % seeds.count]
            for _ in 0..<(1 + Int(rng.next() % 4)) {
                let at = Int(rng.next() % UInt64(line.count + 1))
                switch rng.next() % 4 {
                case 0: if at < line.count { line.remove(at: at) }
                case 1: line.insert(alphabet[Int(rng.next() % UInt64(alphabet.count))], at: at)
                case 2: if at < line.count { line[at] = alphabet[Int(rng.next() % UInt64(alphabet.count))] }
                default: line.removeSubrange(at..<min(line.count, at + Int(rng.next() % 8)))
                }
            }
            let outcome = line.withUnsafeBufferPointer { parser.parse($0) }
            if case .request = outcome { accepted += 1 }
        }
        // Some mutations stay valid (inside strings, digits); most must be refused.
        XCTAssertGreaterThan(accepted, 100)
        XCTAssertLessThan(accepted, 25_000)
    }
}
