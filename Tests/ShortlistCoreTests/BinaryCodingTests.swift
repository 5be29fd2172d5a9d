import ShortlistCore
import XCTest

final class BinaryCodingTests: XCTestCase {
    func testRoundTripAndLittleEndianLayout() throws {
        var w = BinaryWriter()
        w.write(UInt8(7)); w.write(UInt16(0x0102)); w.write(UInt32(0xDEADBEEF)); w.write(UInt64(1) << 40)
        w.write(Int32(-5)); w.write(Float(1.5)); w.write("héllo")
        XCTAssertEqual(Array(w.bytes[1..<3]), [0x02, 0x01])
        try w.bytes.withUnsafeBytes { raw in
            var r = BinaryReader(raw)
            XCTAssertEqual(try r.readUInt8(), 7)
            XCTAssertEqual(try r.readUInt16(), 0x0102)
            XCTAssertEqual(try r.readUInt32(), 0xDEADBEEF)
            XCTAssertEqual(try r.readUInt64(), 1 << 40)
            XCTAssertEqual(try r.readInt32(), -5)
            XCTAssertEqual(try r.readFloat(), 1.5)
            XCTAssertEqual(try r.readString(), "héllo")
            XCTAssertEqual(r.remaining, 0)
            XCTAssertThrowsError(try r.readUInt8()) { XCTAssertEqual($0 as? BinaryReaderError, .truncated(offset: r.offset, needed: 1, available: 0)) }
        }
    }

    func testTruncatedAndInvalidStringsAreRefused() throws {
        var w = BinaryWriter()
        w.write(UInt32(100))
        w.write(bytes: [1, 2, 3])
        try w.bytes.withUnsafeBytes { raw in
            var r = BinaryReader(raw)
            XCTAssertThrowsError(try r.readString())
        }
        var bad = BinaryWriter()
        bad.write(UInt32(2))
        bad.write(bytes: [0xC3, 0x28])
        try bad.bytes.withUnsafeBytes { raw in
            var r = BinaryReader(raw)
            XCTAssertThrowsError(try r.readString()) { XCTAssertEqual($0 as? BinaryReaderError, .invalidUTF8(offset: 0)) }
        }
    }
}
