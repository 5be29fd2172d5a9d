import ShortlistCore
import ShortlistData
import ShortlistTestSupport
import XCTest

final class NPYFormatTests: XCTestCase {
    private func npy(descr: String, fortran: Bool = false, shape: String, data: [UInt8], version: UInt8 = 1) -> [UInt8] {
        var dict = "{'descr': '\(descr)', 'fortran_order': \(fortran ? "True" : "False"), 'shape': \(shape), }"
        let prefix = version == 1 ? 10 : 12
        dict += String(repeating: " ", count: (64 - (prefix + dict.utf8.count + 1) % 64) % 64) + "\n"
        var b: [UInt8] = [0x93] + Array("NUMPY".utf8) + [version, 0]
        if version == 1 { b.appendLE(UInt16(dict.utf8.count)) } else { b.appendLE(UInt32(dict.utf8.count)) }
        return b + Array(dict.utf8) + data
    }

    private func bytes<T>(_ values: [T]) -> [UInt8] { values.withUnsafeBytes { Array($0) } }

    func testWriteThenReadRoundTripsAndIsNumpyCompatibleLayout() throws {
        let dir = TemporaryDirectory()
        let m = Fixtures.clustered(count: 11, dimension: 7)
        try VectorFile.write(m, to: dir.file("a.npy"))
        let raw = dir.read("a.npy")
        XCTAssertEqual(Array(raw.prefix(8)), [0x93] + Array("NUMPY".utf8) + [1, 0])
        XCTAssertEqual((raw.count - 11 * 7 * 4) % 64, 0, "data starts 64-byte aligned")
        XCTAssertEqual(try VectorFile.read(path: dir.file("a.npy")).matrix.flatArray(), m.flatArray())
    }

    /// Search results: one structured array of (id int64, score float32) records, the layout
    /// `numpy.load(path)["id"]` reads.
    func testHitsAreWrittenAsIdAndScoreRecords() throws {
        let dir = TemporaryDirectory()
        try NPYFormat.writeHits(ids: [7, -1, 1 << 40, 3], scores: [0.5, -.infinity, -2, 1], rows: 2, k: 2, to: dir.file("r.npy"))
        let raw = dir.read("r.npy")
        let headerLength = Int(raw[8]) | Int(raw[9]) << 8
        let header = String(decoding: raw[10..<10 + headerLength], as: UTF8.self)
        XCTAssert(header.hasPrefix("{'descr': [('id', '<i8'), ('score', '<f4')], 'fortran_order': False, 'shape': (2, 2), }"), header)
        XCTAssertEqual((10 + headerLength) % 64, 0, "data starts 64-byte aligned")
        let data = Array(raw[(10 + headerLength)...])
        XCTAssertEqual(data, bytes([Int64(7)]) + bytes([Float(0.5)]) + bytes([Int64(-1)]) + bytes([-Float.infinity])
                           + bytes([Int64(1 << 40)]) + bytes([Float(-2)]) + bytes([Int64(3)]) + bytes([Float(1)]))
    }

    func testFloat64Float16AndVersion2AreRead() throws {
        let dir = TemporaryDirectory()
        let f8 = dir.write("f8.npy", npy(descr: "<f8", shape: "(2, 2)", data: bytes([1.5, -2.0, 3.25, 1e-3] as [Double])))
        XCTAssertEqual(try VectorFile.read(path: f8).matrix.flatArray(), [1.5, -2, 3.25, Float(1e-3)])
        let halves: [UInt16] = [Float16(0.5).bitPattern, Float16(-3).bitPattern, Float16(1024).bitPattern]
        let f2 = dir.write("f2.npy", npy(descr: "<f2", shape: "(1, 3)", data: bytes(halves)))
        XCTAssertEqual(try VectorFile.read(path: f2).matrix.flatArray(), [0.5, -3, 1024])
        let v2 = dir.write("v2.npy", npy(descr: "<f4", shape: "(1, 2)", data: bytes([Float(1), 2]), version: 2))
        XCTAssertEqual(try VectorFile.read(path: v2).matrix.flatArray(), [1, 2])
    }

    func testUnsupportedLayoutsAndDamageAreRefusedClearly() {
        let dir = TemporaryDirectory()
        let four = bytes([Float(1), 2, 3, 4])
        func refused(_ name: String, _ content: [UInt8], _ check: (VectorFileError) -> Bool, line: UInt = #line) {
            let p = dir.write(name, content)
            XCTAssertThrowsError(try VectorFile.read(path: p), line: line) { error in
                guard let e = error as? VectorFileError, check(e) else { return XCTFail("\(name): \(error)", line: line) }
                XCTAssert(e.description.hasPrefix(p), line: line)
            }
        }
        refused("fortran.npy", npy(descr: "<f4", fortran: true, shape: "(2, 2)", data: four)) {
            if case let .unsupportedType(_, reason) = $0 { return reason.contains("Fortran") } else { return false }
        }
        refused("int.npy", npy(descr: "<i8", shape: "(2, 1)", data: four + four)) {
            if case let .unsupportedType(_, reason) = $0 { return reason.contains("<i8") } else { return false }
        }
        refused("big.npy", npy(descr: ">f4", shape: "(2, 2)", data: four)) {
            if case let .unsupportedType(_, reason) = $0 { return reason.contains("big-endian") } else { return false }
        }
        refused("onedim.npy", npy(descr: "<f4", shape: "(4,)", data: four)) { if case .badHeader = $0 { return true } else { return false } }
        refused("cut.npy", npy(descr: "<f4", shape: "(3, 2)", data: four)) {
            if case let .truncated(_, row, _) = $0 { return row == 2 } else { return false }
        }
        refused("extra.npy", npy(descr: "<f4", shape: "(1, 2)", data: four)) { if case .badHeader = $0 { return true } else { return false } }
        refused("magic.npy", Array("NOTNUMPY0000".utf8)) { if case .badHeader = $0 { return true } else { return false } }
        refused("hdr.npy", Array(npy(descr: "<f4", shape: "(1, 4)", data: four).prefix(30))) {
            if case .badHeader = $0 { return true } else { return false }
        }
        refused("v9.npy", [0x93] + Array("NUMPY".utf8) + [9, 0, 0, 0]) { if case .badHeader = $0 { return true } else { return false } }
        refused("nan.npy", npy(descr: "<f4", shape: "(2, 2)", data: bytes([Float(1), 2, 3, .nan]))) {
            $0 == .nonFinite(path: dir.file("nan.npy"), row: 1, column: 1)
        }
        refused("empty.npy", []) { if case .empty = $0 { return true } else { return false } }
        refused("zero.npy", npy(descr: "<f4", shape: "(0, 4)", data: [])) { if case .empty = $0 { return true } else { return false } }
    }
}
