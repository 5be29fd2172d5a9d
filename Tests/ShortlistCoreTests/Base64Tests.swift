import CShortlistKernels
import Foundation
import ShortlistCore
import ShortlistTestSupport
import XCTest

final class Base64Tests: XCTestCase {
    private func decode(_ text: String, capacity: Int = 1 << 16) -> [UInt8]? {
        var out = [UInt8](repeating: 0, count: capacity)
        let bytes = Array(text.utf8)
        let n = bytes.withUnsafeBufferPointer { t in out.withUnsafeMutableBytes { Base64.decode(t, into: $0) } }
        return n.map { Array(out[0..<$0]) }
    }

    /// Every length 0…300 of seeded random bytes, padded and unpadded, agrees with Foundation.
    func testRoundTripsAgainstFoundation() {
        var generator = SeededGenerator(seed: 3)
        for length in 0...300 {
            let bytes = (0..<length).map { _ in UInt8.random(in: 0...255, using: &generator) }
            let padded = Data(bytes).base64EncodedString()
            XCTAssertEqual(decode(padded), bytes, "length \(length)")
            let unpadded = String(padded.prefix { $0 != "=" })
            XCTAssertEqual(decode(unpadded), bytes, "length \(length), unpadded")
            XCTAssertEqual(Array(unpadded.utf8).withUnsafeBufferPointer { Base64.decodedCount($0) }, length)
        }
    }

    /// The vector path (32 characters at a time) and the scalar one agree: exact-size output, and
    /// a bad character anywhere in a long text is refused whichever path meets it.
    func testVectorAndScalarPathsAgree() {
        var generator = SeededGenerator(seed: 5)
        let previous = sk_isa_active()
        defer { _ = sk_isa_force(previous) }
        for isa in [SK_ISA_SCALAR, sk_isa_detected()] {
            XCTAssertEqual(sk_isa_force(isa), 1)
            for length in [24, 47, 48, 96, 100, 1_536, 1_537] {
                let bytes = (0..<length).map { _ in UInt8.random(in: 0...255, using: &generator) }
                let text = Array(Data(bytes).base64EncodedString().utf8)
                var out = [UInt8](repeating: 0, count: length)
                let n = text.withUnsafeBufferPointer { t in out.withUnsafeMutableBytes { Base64.decode(t, into: $0) } }
                XCTAssertEqual(n, length, "isa \(isa), length \(length)")
                XCTAssertEqual(out, bytes, "isa \(isa), length \(length)")
                for position in stride(from: 0, to: text.count - 2, by: 13) {
                    for bad: UInt8 in [UInt8(ascii: "*"), UInt8(ascii: "="), UInt8(ascii: "-"), 0x80, 0x00, UInt8(ascii: ":"), UInt8(ascii: "@"), UInt8(ascii: "`")] {
                        var broken = text
                        broken[position] = bad
                        let m = broken.withUnsafeBufferPointer { t in out.withUnsafeMutableBytes { Base64.decode(t, into: $0) } }
                        XCTAssertNil(m, "isa \(isa), length \(length), \(bad) at \(position)")
                    }
                }
            }
        }
    }

    func testMalformedTextIsRefused() {
        for bad in ["A", "AAAAA", "AB=C", "A===", "AB=", "ABC==", "AQ==AQ==", "AB-_", "AB\nC", "ABCD\u{0}", "AR==", "ABD="] {
            XCTAssertNil(decode(bad), bad)
        }
        XCTAssertNil(decode("AAAA", capacity: 2), "more bytes than room")
        XCTAssertEqual(decode("AAAA", capacity: 3), [0, 0, 0])
        XCTAssertEqual(decode(""), [])
    }
}
