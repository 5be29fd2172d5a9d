import Foundation
@testable import ShortlistCore
import XCTest

final class JSONOutputTests: XCTestCase {
    /// Strings with nothing to escape are copied whole; the others escaped byte by byte. Both
    /// must read back as the same string.
    func testStringsRoundTripWithAndWithoutEscapes() throws {
        let cases = ["", "plain", "AACAPwAAAD8=", "née 東京 🙂", "quote \" and \\ backslash", "line\nbreak\ttab\r", "\u{01}\u{1F}", "end\""]
        for text in cases {
            var o = JSONOutput(capacity: 16)
            o.string(text)
            let back = try JSONSerialization.jsonObject(with: Data(o.bytes), options: .fragmentsAllowed) as? String
            XCTAssertEqual(back, text, String(decoding: o.bytes, as: UTF8.self))
        }
        var o = JSONOutput(capacity: 16)
        o.string("a\u{01}")
        XCTAssertEqual(String(decoding: o.bytes, as: UTF8.self), #""a\u0001""#)
    }
}
