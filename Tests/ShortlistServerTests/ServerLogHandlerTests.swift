import Foundation
import Logging
@testable import ShortlistServer
import Synchronization
import XCTest

final class ServerLogHandlerTests: XCTestCase {
    /// Lines a logger wrote through a `ServerLogHandler` of `format` at `level`.
    private func capture(_ format: ServerLogHandler.Format, level: Logger.Level, _ body: (inout Logger) -> Void) -> [String] {
        let lines = Mutex<[String]>([])
        var logger = Logger(label: "shortlist.test") { label in
            ServerLogHandler(label: label, level: level, format: format) { bytes in lines.withLock { $0.append(String(decoding: bytes, as: UTF8.self)) } }
        }
        body(&logger)
        return lines.withLock { $0 }
    }

    func testJSONLinesParseAndCarryMetadata() throws {
        let lines = capture(.json, level: .info) { log in
            log[metadataKey: "collection"] = "items"
            log.debug("hidden below info")
            log.warning("a \"quoted\"\nmessage", metadata: ["bytes": "12", "msg": "not the message"])
        }
        XCTAssertEqual(lines.count, 1, "debug is below the level")
        XCTAssertTrue(lines[0].hasSuffix("}\n"))
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(lines[0].utf8)) as? [String: String])
        XCTAssertEqual(object["level"], "warning")
        XCTAssertEqual(object["label"], "shortlist.test")
        XCTAssertEqual(object["msg"], "a \"quoted\"\nmessage", "metadata cannot overwrite the message")
        XCTAssertEqual(object["collection"], "items")
        XCTAssertEqual(object["bytes"], "12")
        XCTAssertNotNil(object["ts"].flatMap { ISO8601DateFormatter().date(from: $0.replacingOccurrences(of: #"\.\d{3}Z$"#, with: "Z", options: .regularExpression)) })
    }

    func testTextLinesSortMetadataAfterTheMessage() {
        let lines = capture(.text, level: .notice) { log in
            log.info("hidden")
            log.notice("listening", metadata: ["port": "7700", "host": "127.0.0.1"])
        }
        XCTAssertEqual(lines.count, 1)
        XCTAssertNotNil(lines[0].range(of: #"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z notice shortlist\.test: listening host=127\.0\.0\.1 port=7700\n$"#,
                                       options: .regularExpression), lines[0])
    }
}
