import CShortlistKernels
import Foundation
import ShortlistCore
import ShortlistTestSupport
import XCTest

final class JSONScannerTests: XCTestCase {
    private func scan<T>(_ text: String, _ body: (inout JSONScanner) throws -> T) throws -> T {
        let bytes = Array(text.utf8)
        return try bytes.withUnsafeBufferPointer { buf in
            var s = JSONScanner(buf)
            let v = try body(&s)
            guard s.isAtEnd() else { throw JSONError.syntax(offset: s.position, expected: "the end of the text") }
            return v
        }
    }

    private func assertFails(_ text: String, file: StaticString = #filePath, line: UInt = #line,
                             _ body: (inout JSONScanner) throws -> Void) {
        XCTAssertThrowsError(try scan(text, body), text, file: file, line: line) { error in
            XCTAssert(error is JSONError, "\(error)", file: file, line: line)
        }
    }

    func testNumbersAreCorrectlyRounded() throws {
        let cases = ["0", "-0", "1", "-1", "3.14159", "1e10", "1E-10", "2.5e+3", "0.000123", "123456789012345678",
                     "1.7976931348623157e308", "4.9e-324", "0.1", "-0.30000000000000004", "9007199254740993",
                     "1234567890.0987654321", "1e-400", "12345678901234567890123", "0.0000000000000000000000001"]
        for c in cases {
            XCTAssertEqual(try scan(c) { try $0.readDouble() }, Double(c)!, c)
        }
        var rng = SeededGenerator(seed: 3)
        for _ in 0..<2000 {
            let f = Float(bitPattern: UInt32(truncatingIfNeeded: rng.next()) & 0x7EFF_FFFF)
            let text = "\(f)"
            XCTAssertEqual(try scan(text) { try $0.readFloat() }, f, text)
        }
    }

    func testFloatArraysAndObjects() throws {
        var out: [Float] = []
        try scan(" [1, -2.5 ,3e2,\n0.125] ") { try $0.readFloatArray(into: &out, limit: 10) }
        XCTAssertEqual(out, [1, -2.5, 300, 0.125])
        var seen: [String: String] = [:]
        try scan(#"{"a": 1, "b": {"c": [true, false, null, "x"]}, "e\u00e9\"": "q\n\/\ud83d\ude00"}"#) { s in
            try s.readObject { s, key in
                if key == "a" { seen[key] = String(try s.readUInt64()) } else if key == "b" { try s.skipValue(); seen[key] = "skipped" } else {
                    seen[key] = try s.readString()
                }
            }
        }
        XCTAssertEqual(seen, ["a": "1", "b": "skipped", "eé\"": "q\n/😀"])
        XCTAssertEqual(try scan("18446744073709551615") { try $0.readUInt64() }, UInt64.max)
        XCTAssertEqual(try scan("[]") { s -> Int in var n = 0; try s.readArray { _ in n += 1 }; return n }, 0)
        XCTAssertEqual(try scan("{}") { s -> Int in var n = 0; try s.readObject { _, _ in n += 1 }; return n }, 0)
    }

    func testMalformedInputIsRefused() {
        for bad in ["", "-", "01", "1.", ".5", "1e", "1e+", "+1", "NaN", "Infinity", "-Infinity", "0x10", "1.5.2", "--1", "tru", "nul"] {
            assertFails(bad) { _ = try $0.readDouble() }
        }
        for bad in ["[1,]", "[1 2]", "[", "[1", "[,1]", "]"] {
            assertFails(bad) { s in var o: [Float] = []; try s.readFloatArray(into: &o, limit: 10) }
        }
        for bad in [#"{"a":1,}"#, #"{"a" 1}"#, #"{a:1}"#, #"{"a":1"#, #"{"a":}"#, "{", #"{"a":1 "b":2}"#] {
            assertFails(bad) { s in try s.readObject { s, _ in try s.skipValue() } }
        }
        for bad in ["\"abc", "\"a\u{01}b\"", #""\x""#, #""\u12""#, #""\ud800""#, #""\udc00x""#, #""\ud800\u0041""#] {
            assertFails(bad) { _ = try $0.readString() }
        }
        assertFails("[1e39]") { s in var o: [Float] = []; try s.readFloatArray(into: &o, limit: 10) }
        assertFails("[1,2,3]") { s in var o: [Float] = []; try s.readFloatArray(into: &o, limit: 2) }
        for bad in ["-1", "1.5", "1e3", "18446744073709551616", "\"7\""] {
            assertFails(bad) { _ = try $0.readUInt64() }
        }
        assertFails(String(repeating: "[", count: 100) + String(repeating: "]", count: 100)) { try $0.skipValue() }
    }

    func testInvalidUTF8InStringsIsRefused() throws {
        let bytes: [UInt8] = [0x22, 0xC3, 0x28, 0x22]
        try bytes.withUnsafeBufferPointer { buf in
            var s = JSONScanner(buf)
            XCTAssertThrowsError(try s.readString())
        }
    }

    /// Seeded random mutations of valid lines: the scanner must throw or succeed, never crash or read out of bounds.
    func testRandomMutationsNeverCrash() {
        let seeds = [#"{"id": 12, "vector": [0.5, -1e-3, 2.25], "payload": {"t": "x\u00e9", "n": [1, {"a": null}]}}"#,
                     #"[1, 2, 3.5e7, "a\"b", true, false, null, {"k": []}]"#]
        var rng = SeededGenerator(seed: 2024)
        for i in 0..<20_000 {
            var b = Array(seeds[i % seeds.count].utf8)
            for _ in 0..<(1 + Int(rng.next() % 4)) {
                let p = Int(rng.next() % UInt64(b.count))
                switch rng.next() % 3 {
                case 0: b[p] = UInt8(truncatingIfNeeded: rng.next())
                case 1: b.remove(at: p)
                default: b.insert(Array("{}[]\",:-.e0\\".utf8)[Int(rng.next() % 12)], at: p)
                }
                if b.isEmpty { b = [0x20] }
            }
            b.withUnsafeBufferPointer { buf in
                var s = JSONScanner(buf)
                _ = try? s.skipValue()
            }
        }
    }
}

final class JSONScannerFastArrayTests: XCTestCase {
    private func fast(_ text: String, limit: Int = 100) -> ([Float], JSONScanner.FloatArrayScan, Int) {
        let bytes = Array(text.utf8)
        return bytes.withUnsafeBufferPointer { buf in
            var s = JSONScanner(buf)
            var out: [Float] = [42]
            let r = s.scanFloatArray(into: &out, limit: limit)
            return (Array(out.dropFirst()), r, s.position)
        }
    }

    func testFastPathReadsPlainArraysExactly() {
        var rng = SeededGenerator(seed: 9)
        var values: [Float] = []
        for i in 0..<384 {
            // Magnitudes from 1e-37 to 1e4, as embeddings have (normalised ones hold noise like 1.4e-33).
            let f = Float(rng.nextGaussian()) * Float(pow(10, Double(i % 42) - 37))
            values.append(f)
        }
        // Swift's shortest forms, Python-style 17-digit forms, and exponents.
        let text = "[" + values.map { "\($0)" }.joined(separator: ",") + "]"
        let (out, r, end) = fast(text, limit: 1000)
        XCTAssertEqual(r, .complete)
        XCTAssertEqual(out, values)
        XCTAssertEqual(end, text.utf8.count)
        let long = "[ 0.12345678901234568 , -1.2345678901234567e-05,3E2, 0, -0.0,1e22 ]"
        let (o2, r2, _) = fast(long)
        XCTAssertEqual(r2, .complete)
        XCTAssertEqual(o2, [0.12345678901234568, -1.2345678901234567e-05, 300, 0, 0, 1e22].map { Float($0) })
        XCTAssertEqual(fast("[]").1, .complete)
    }

    func testGeneralPathStillReadsWhatTheFastPathDefers() throws {
        let text = "[1e-70, 3.4e38, 1e-46]"
        var out: [Float] = []
        try Array(text.utf8).withUnsafeBufferPointer { buf in
            var s = JSONScanner(buf)
            try s.readFloatArray(into: &out, limit: 10)
        }
        XCTAssertEqual(out, [0, 3.4e38, 0])
    }

    func testFastPathDefersAnythingUnusual() {
        for bad in ["[1,2", "[1,,2]", "[1,\"a\"]", "[01]", "[1.]", "[1e]", "[1e39]", "[1e-400]", "[1e-70]", "[NaN]", "[-]", "[1 2]", "{}", "[[1]]", "[1,2,3]"] {
            let (out, r, position) = fast(bad, limit: 2)
            XCTAssertEqual(r, .needsGeneralPath, bad)
            XCTAssertEqual(out, [], bad)
            XCTAssertEqual(position, 0, bad)
        }
    }

    /// Runs `body` with the scalar kernels, then with the detected ones (the 16-byte number reader).
    private func underBothISAs(_ body: (sk_isa) -> Void) {
        let previous = sk_isa_active()
        defer { _ = sk_isa_force(previous) }
        for isa in [SK_ISA_SCALAR, sk_isa_detected()] {
            XCTAssertEqual(sk_isa_force(isa), 1)
            body(isa)
        }
    }

    func testSixteenByteReaderAgreesWithTheGeneralOne() {
        var rng = SeededGenerator(seed: 21)
        let specials = ["0", "-0", "0.0", "-0.0", "7", "10", "100000000000000", "999999999999999", "-99999999999999.9",
                        "0.000000000000001", "0.12345678901234", "1234567.8901234", "1e-40"]
        var tokens: [String] = []
        var text = "["
        for i in 0..<4000 {
            let x = Double(rng.nextGaussian()) * pow(10, Double(rng.next() % 9) - 4)
            let token: String
            switch i % 9 {
            case 0: token = "\(Float(x))"  // Swift's shortest form, exponents included
            case 1: token = String(format: "%.8f", x)
            case 2: token = String(format: "%.3f", x)
            case 3: token = String(Int(x * 1000))
            case 4: token = String(format: "%.14f", x)  // 16+ characters: the general reader
            case 5: token = String(format: "%.6e", x)
            case 6: token = specials[Int(rng.next() % UInt64(specials.count))]
            case 7: token = String(format: "%.1f", x)
            default: token = String(format: "%.9g", x)
            }
            tokens.append(token)
            if i > 0 { text += [",", ",", ",", ", ", " ,", ",\n"][Int(rng.next() % 6)] }
            text += token
        }
        text += "]"
        var results: [[UInt32]] = []
        underBothISAs { isa in
            let (out, r, end) = fast(text, limit: 5000)
            XCTAssertEqual(r, .complete, "isa \(isa)")
            XCTAssertEqual(end, text.utf8.count, "isa \(isa)")
            XCTAssertEqual(out.count, tokens.count, "isa \(isa)")
            // The reader's documented rounding: the decimal to the nearest double, then to float.
            // (Directly to float differs in rare halfway cases: "8.42205286026001" is such a token.)
            for (value, token) in zip(out, tokens) where value.bitPattern != Float(Double(token)!).bitPattern {
                XCTFail("isa \(isa): \(token) read as \(value), not \(Float(Double(token)!))")
                break
            }
            results.append(out.map(\.bitPattern))
        }
        XCTAssertEqual(results.first, results.last)
    }

    func testSixteenByteReaderRefusesWhatJSONRefuses() {
        // Each bad number with 16 bytes or more after it (so the 16-byte reader sees it), first
        // and in the middle of an array.
        let filler = "0.123456789,0.987654321,-0.5,12345"
        for bad in ["01", "1.", ".5", "1..2", "1.2.3", "-", "--1", "1-", "0x1", "1_0", "+1", "00.5", "-01", "1.5.", "\"1\"", "1e", "1E+", "NaN"] {
            for text in ["[\(bad),\(filler)]", "[\(filler),\(bad),\(filler)]"] {
                underBothISAs { isa in
                    let (out, r, position) = fast(text, limit: 100)
                    XCTAssertEqual(r, .needsGeneralPath, "isa \(isa): \(text)")
                    XCTAssertEqual(out, [], "isa \(isa): \(text)")
                    XCTAssertEqual(position, 0, "isa \(isa): \(text)")
                }
            }
        }
    }
}
