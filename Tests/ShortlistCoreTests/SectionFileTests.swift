import ShortlistCore
import ShortlistTestSupport
import XCTest

/// The container every file format shares: round trip, and every kind of damage refused.
final class SectionFileTests: XCTestCase {
    private let magic = Array("TESTFILE".utf8)

    private func read(_ path: String) throws -> SectionFile.Contents {
        try SectionFile.read(path: path, magic: magic) { _, _ in }
    }

    func testRoundTripKeepsVersionFactsAndSectionsAligned() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("a.bin")
        let vectors = try VectorMatrix(dimension: 3, values: [1, 2, 3, 4, 5, 6])
        try SectionFile.write(path: path, magic: magic, version: 7, facts: [1, 2, 3], sections: [
            .init(tag: "AAAA", payload: .bytes(Array("hello".utf8))),
            .init(tag: "VECS", payload: .vectors(vectors)),
            .init(tag: "IDS_", payload: .uint64s([9, 8])),
            .init(tag: "NONE", payload: .bytes([])),
        ])
        let bytes = dir.read("a.bin")
        XCTAssertEqual(bytes.count % 64, 0)
        let c = try read(path)
        XCTAssertEqual(c.version, 7)
        XCTAssertEqual(Array(c.facts), [1, 2, 3] + [UInt8](repeating: 0, count: 17))
        XCTAssertEqual(c.sectionList.map(\.tag), ["AAAA", "VECS", "IDS_", "NONE"])
        XCTAssertEqual(Array(c.sections["AAAA"]!), Array("hello".utf8))
        XCTAssertEqual(c.sections["VECS"]!.count, 24)
        XCTAssertEqual(Int(bitPattern: c.sections["VECS"]!.baseAddress!) % 64, 0, "payloads are 64-byte aligned in the mapping")
        XCTAssertEqual(c.sections["IDS_"]!.loadUnaligned(fromByteOffset: 8, as: UInt64.self), 8)
        XCTAssertEqual(c.sections["NONE"]!.count, 0)
    }

    func testEveryByteIsCheckedAndDuplicatesAreRefused() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("a.bin")
        try SectionFile.write(path: path, magic: magic, version: 1, facts: [5], sections: [
            .init(tag: "ONE_", payload: .bytes([1, 2, 3])), .init(tag: "TWO_", payload: .bytes(Array(repeating: 7, count: 70))),
        ])
        let good = dir.read("a.bin")
        // Every single-bit flip anywhere is refused (or, in the facts, seen by the file type).
        for i in 0..<good.count where !(12..<32).contains(i) {
            var bad = good
            bad[i] ^= 0x10
            XCTAssertThrowsError(try read(dir.write("flip.bin", bad)), "byte \(i)")
        }
        for cut in [0, 5, 63, 64, 100, good.count - 1] {
            XCTAssertThrowsError(try read(dir.write("cut.bin", Array(good[0..<cut]))), "cut at \(cut)")
        }
        XCTAssertThrowsError(try read(dir.write("long.bin", good + [0]))) {
            guard case .inconsistent = $0 as? SectionFile.Failure else { return XCTFail("\($0)") }
        }
        XCTAssertThrowsError(try SectionFile.read(path: path, magic: Array("OTHERFIL".utf8)) { _, _ in }) {
            XCTAssertEqual($0 as? SectionFile.Failure, .wrongMagic)
        }
        try SectionFile.write(path: dir.file("twice.bin"), magic: magic, version: 1, facts: [], sections: [
            .init(tag: "SAME", payload: .bytes([1])), .init(tag: "SAME", payload: .bytes([2])),
        ])
        XCTAssertThrowsError(try read(dir.file("twice.bin"))) {
            XCTAssertEqual($0 as? SectionFile.Failure, .inconsistent("section 'SAME' appears twice"))
        }
        // The file type sees version and facts before any section is read.
        XCTAssertThrowsError(try SectionFile.read(path: path, magic: magic) { version, facts in
            XCTAssertEqual(version, 1)
            XCTAssertEqual(facts.first, 5)
            throw SectionFile.Failure.inconsistent("refused by the file type")
        })
    }
}
