import Foundation
import ShortlistCore
import ShortlistIndex
import ShortlistTestSupport
import XCTest

final class IndexFileTests: XCTestCase {
    /// The index every golden file holds: 3 vectors of dimension 2, L2, ids 10, 20, 30.
    private func goldenIndex() throws -> FlatIndex {
        try FlatIndex(metric: .l2, vectors: try VectorMatrix(dimension: 2, values: [0, 0, 1, 0, 0.5, 2]), ids: [10, 20, 30])
    }

    private func goldenPath(_ name: String) -> String {
        Bundle.module.path(forResource: name, ofType: nil, inDirectory: "Golden")!
    }

    func testRoundTripKeepsEveryMetricIdAndAnswer() throws {
        let dir = TemporaryDirectory()
        for metric in Metric.allCases {
            let base = Fixtures.clustered(count: 300, dimension: 9, normSpread: 2, seed: 11)
            let ids = (0..<300).map { UInt64($0) * 3 + (1 << 40) }
            let index = try FlatIndex(metric: metric, vectors: base, ids: ids)
            let path = dir.file("\(metric).idx")
            try index.save(to: path)
            let loaded = try XCTUnwrap(try IndexLoader.load(path: path) as? FlatIndex)
            XCTAssertEqual(loaded.metric, metric)
            XCTAssertEqual(loaded.count, 300)
            XCTAssertEqual(loaded.dimension, 9)
            XCTAssertEqual(loaded.idMap.ids, ids)
            XCTAssertEqual(loaded.vectors.flatArray(), index.vectors.flatArray())
            let q = Fixtures.clustered(count: 1, dimension: 9, seed: 12).rowArray(0)
            XCTAssertEqual(try loaded.search(q, k: 7), try index.search(q, k: 7))
            let contents = try IndexFile.read(path: path)
            XCTAssertEqual(contents.header, IndexFile.Header(kind: .flat, metric: metric, dimension: 9, count: 300))
            XCTAssertEqual(contents.sectionList.map(\.tag), ["META", "VECS", "IDS "])
            XCTAssertEqual(try IndexMetadata(decoding: try contents.section("META"), path: path)["spec"], "Flat")
        }
    }

    func testEveryFlippedByteIsDetected() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("g.idx")
        try goldenIndex().save(to: path)
        let good = dir.read("g.idx")
        XCTAssertEqual(good.count % 64, 0)
        for i in 0..<good.count {
            var bad = good
            bad[i] ^= 0x41
            let p = dir.write("bad.idx", bad)
            XCTAssertThrowsError(try IndexLoader.load(path: p), "byte \(i) flipped went unnoticed") { error in
                XCTAssert(error is IndexFileError, "byte \(i): \(error)")
            }
        }
    }

    func testEveryTruncationIsRefused() throws {
        let dir = TemporaryDirectory()
        try goldenIndex().save(to: dir.file("g.idx"))
        let good = dir.read("g.idx")
        for n in 0..<good.count {
            let p = dir.write("cut.idx", Array(good.prefix(n)))
            XCTAssertThrowsError(try IndexLoader.load(path: p), "prefix of \(n) bytes loaded") { error in
                guard let e = error as? IndexFileError else { return XCTFail("\(n): \(error)") }
                if n >= 64 {
                    guard case .truncated = e else { return XCTFail("prefix \(n): \(e)") }
                }
            }
        }
        let appended = dir.write("long.idx", good + [0])
        XCTAssertThrowsError(try IndexLoader.load(path: appended)) { error in
            guard case .inconsistent? = error as? IndexFileError else { return XCTFail("\(error)") }
        }
    }

    func testNewerVersionIsRefusedWithAnUpgradeHint() throws {
        let dir = TemporaryDirectory()
        try goldenIndex().save(to: dir.file("g.idx"))
        var bytes = dir.read("g.idx")
        bytes[8] = 2  // format version field
        let crc = bytes.withUnsafeBytes { Checksum.crc32c(UnsafeRawBufferPointer(rebasing: $0[0..<60])) }
        bytes.replaceSubrange(60..<64, with: withUnsafeBytes(of: crc.littleEndian) { Array($0) })
        let p = dir.write("v2.idx", bytes)
        XCTAssertThrowsError(try IndexLoader.load(path: p)) { error in
            XCTAssertEqual(error as? IndexFileError, .newerVersion(path: p, found: 2, supported: 1))
            XCTAssert("\(error)".contains("Upgrade"))
        }
    }

    func testNonIndexFilesAndMissingFiles() {
        let dir = TemporaryDirectory()
        let p = dir.write("x.idx", Array("hello, this is not an index at all, not even close to one..........".utf8))
        XCTAssertThrowsError(try IndexLoader.load(path: p)) { XCTAssertEqual($0 as? IndexFileError, .notAnIndexFile(path: p)) }
        XCTAssertThrowsError(try IndexLoader.load(path: dir.file("none.idx"))) {
            XCTAssertEqual($0 as? FileError, .notFound(path: dir.file("none.idx")))
        }
    }

    /// Files written by format v1 stay readable forever, and today's writer still produces them byte for byte.
    func testGoldenV1FileLoadsAndWriterIsStable() throws {
        let golden = goldenPath("flat-l2-v1.idx")
        let loaded = try XCTUnwrap(try IndexLoader.load(path: golden) as? FlatIndex)
        XCTAssertEqual(loaded.metric, .l2)
        XCTAssertEqual(loaded.idMap.ids, [10, 20, 30])
        XCTAssertEqual(loaded.vectors.flatArray(), [0, 0, 1, 0, 0.5, 2])
        XCTAssertEqual(try loaded.search([0.9, 0.1], k: 3).map(\.id), [20, 10, 30])
        let dir = TemporaryDirectory()
        try goldenIndex().save(to: dir.file("now.idx"))
        let expected = try Data(contentsOf: URL(fileURLWithPath: golden))
        if ProcessInfo.processInfo.environment["SHORTLIST_WRITE_GOLDEN"] == "1" {
            let source = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Golden/flat-l2-v1.idx")
            try Data(dir.read("now.idx")).write(to: source)
        }
        XCTAssertEqual(dir.read("now.idx"), Array(expected), "the v1 writer's output changed: bump the format version instead")
    }

    /// The HNSW16,SQ8 golden file: 48 seeded vectors of dimension 6, L2, built on one thread.
    private func goldenSQ8Index() throws -> HNSWIndex {
        let vectors = Fixtures.clustered(count: 48, dimension: 6, clusters: 4, seed: 131)
        return try HNSWIndex(metric: .l2, vectors: vectors, ids: (0..<48).map { UInt64(1000 + $0) },
                             configuration: HNSWConfiguration(m: 16, efConstruction: 40, seed: 5, storage: .sq8), threads: 1)
    }

    /// SQ8 files (codes, ranges, norms) of this version stay readable and give the answers they
    /// gave: the first golden file was written before builds renumbered rows (no `INPR`), the
    /// second by today's writer, which still produces it byte for byte.
    func testGoldenSQ8FilesLoadAndWriterIsStable() throws {
        let dir = TemporaryDirectory()
        try goldenSQ8Index().save(to: dir.file("now.idx"))
        if ProcessInfo.processInfo.environment["SHORTLIST_WRITE_GOLDEN"] == "1" {
            let source = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Golden/hnsw16-sq8-l2-v1-inpr.idx")
            try Data(dir.read("now.idx")).write(to: source)
        }
        let vectors = Fixtures.clustered(count: 48, dimension: 6, clusters: 4, seed: 131)
        for (name, renumbered) in [("hnsw16-sq8-l2-v1.idx", false), ("hnsw16-sq8-l2-v1-inpr.idx", true)] {
            let loaded = try XCTUnwrap(try IndexLoader.load(path: goldenPath(name)) as? HNSWIndex)
            XCTAssertEqual(loaded.spec.description, "HNSW16,SQ8")
            XCTAssertEqual(loaded.count, 48)
            XCTAssertEqual(try IndexFile.read(path: goldenPath(name)).sections["INPR"] != nil, renumbered, name)
            XCTAssertEqual(loaded.inputIds, (0..<48).map { UInt64(1000 + $0) }, "\(name): input row r has id 1000 + r")
            for q in [0, 17, 40] {
                let hits = try loaded.search(vectors.rowArray(q), k: 3, parameters: SearchParameters(ef: 48))
                XCTAssertEqual(hits.map(\.id), Fixtures.referenceTopK(.l2, base: vectors, query: vectors.rowArray(q), k: 3).map { UInt64(1000 + $0) }, name)
            }
        }
        XCTAssertEqual(dir.read("now.idx"), Array(try Data(contentsOf: URL(fileURLWithPath: goldenPath("hnsw16-sq8-l2-v1-inpr.idx")))),
                       "the SQ8 writer's output changed: bump the format version instead")
    }

    /// One golden file per remaining index kind and storage, written by this version: each
    /// loads, answers as exact search does on its seeded data, and saving what was loaded
    /// reproduces it byte for byte (so a changed writer or reader is caught, on any CPU: nothing
    /// is trained or built again here).
    func testGoldenFilesOfEveryKindLoadAnswerAndRoundTrip() throws {
        let vectors = Fixtures.clustered(count: 300, dimension: 8, clusters: 4, seed: 171)
        let goldens: [(name: String, metric: Metric, make: () throws -> any VectorIndex, parameters: SearchParameters)] = [
            ("hnsw8-f32-l2-v1.idx", .l2, { try HNSWIndex(metric: .l2, vectors: vectors, configuration: HNSWConfiguration(m: 8, efConstruction: 40, seed: 7), threads: 1) },
             SearchParameters(ef: 64)),
            ("hnsw8-f16-cosine-v1.idx", .cosine, {
                try HNSWIndex(metric: .cosine, vectors: vectors, configuration: HNSWConfiguration(m: 8, efConstruction: 40, seed: 7, storage: .float16), threads: 1)
            }, SearchParameters(ef: 64)),
            ("ivf4-opq-pq4-refine-l2-v1.idx", .l2, {
                try IVFPQIndex(metric: .l2, vectors: vectors, configuration: IVFPQConfiguration(nlist: 4, m: 4, refine: true, opq: true, iterations: 5, seed: 7), threads: 1)
            }, SearchParameters(nprobe: 4, rerank: 30)),
            ("ivf4-pq4x4fs-refine-ip-v1.idx", .ip, {
                try IVFPQIndex(metric: .ip, vectors: vectors, configuration: IVFPQConfiguration(nlist: 4, m: 4, bits: 4, refine: true, iterations: 5, seed: 7), threads: 1)
            }, SearchParameters(nprobe: 4, rerank: 30)),
        ]
        let dir = TemporaryDirectory()
        for golden in goldens {
            if ProcessInfo.processInfo.environment["SHORTLIST_WRITE_GOLDEN"] == "1" {
                let source = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Golden/\(golden.name)")
                try golden.make().save(to: source.path)
                continue
            }
            let loaded = try IndexLoader.load(path: goldenPath(golden.name))
            XCTAssertEqual(loaded.count, 300, golden.name)
            XCTAssertEqual(loaded.metric, golden.metric, golden.name)
            for q in [0, 121, 250] {
                let hits = try loaded.search(vectors.rowArray(q), k: 3, parameters: golden.parameters)
                XCTAssertEqual(hits.map(\.id), Fixtures.referenceTopK(golden.metric, base: vectors, query: vectors.rowArray(q), k: 3).map { UInt64($0) },
                               "\(golden.name) query \(q)")
            }
            try loaded.save(to: dir.file(golden.name))
            XCTAssertEqual(dir.read(golden.name), Array(try Data(contentsOf: URL(fileURLWithPath: goldenPath(golden.name)))),
                           "\(golden.name): saving a loaded file changed its bytes: bump the format version instead")
        }
    }
}
