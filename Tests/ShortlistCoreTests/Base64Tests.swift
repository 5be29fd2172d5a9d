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

    func testMalformedTextIsRefused() {
        for bad in ["A", "AAAAA", "AB=C", "A===", "AB=", "ABC==", "AQ==AQ==", "AB-_", "AB\nC", "ABCD\u{0}", "AR==", "ABD="] {
            XCTAssertNil(decode(bad), bad)
        }
        XCTAssertNil(decode("AAAA", capacity: 2), "more bytes than room")
        XCTAssertEqual(decode("AAAA", capacity: 3), [0, 0, 0])
        XCTAssertEqual(decode(""), [])
    }
}
