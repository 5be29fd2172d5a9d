import XCTest
@testable import ShortlistServer

final class ServerVersionTests: XCTestCase {
    func testVersionIsSemantic() {
        XCTAssertEqual(ServerVersion.string.split(separator: ".").count, 3)
    }
}
