import Foundation
import ShortlistCore
import ShortlistData
import ShortlistIndex
import ShortlistTestSupport
import ShortlistTrainer
import ShortlistModel
import XCTest
@testable import ShortlistServer
import ShortlistProtocol

/// Seeded random-mutation fuzzing of every reader of outside bytes: each valid seed input is
/// mutated (bit flips, random and boundary bytes, insertions, deletions, truncations, repeated
/// chunks) and handed to the reader, which must either accept it or throw: never crash, hang or
/// grow without bound. `SHORTLIST_FUZZ_ITERATIONS` sets the inputs per reader (default 2,000;
/// the long run uses 1,000,000).
final class FuzzTests: XCTestCase {
    static var iterations: Int { Int(ProcessInfo.processInfo.environment["SHORTLIST_FUZZ_ITERATIONS"] ?? "") ?? 2_000 }

    static func mutate(_ input: [UInt8], _ rng: inout SeededGenerator) -> [UInt8] {
        var b = input
        let interesting: [UInt8] = [0x00, 0xFF, 0x7F, 0x80, 0x01, 0x22, 0x5B, 0x5D, 0x7B, 0x7D, 0x2C, 0x0A, 0x2D, 0x30, 0x39]
        for _ in 0..<(1 + Int(rng.next() % 4)) {
            let at = b.isEmpty ? 0 : Int(rng.next() % UInt64(b.count))
            switch rng.next() % 8 {
            case 0: if !b.isEmpty { b[at] ^= UInt8(1) << UInt8(rng.next() % 8) }
            case 1: if !b.isEmpty { b[at] = UInt8(truncatingIfNeeded: rng.next()) }
            case 2: if !b.isEmpty { b[at] = interesting[Int(rng.next() % UInt64(interesting.count))] }
            case 3: b.insert(interesting[Int(rng.next() % UInt64(interesting.count))], at: at)
            case 4: if !b.isEmpty { b.removeSubrange(at..<min(b.count, at + 1 + Int(rng.next() % 16))) }
            case 5: b.removeSubrange(min(b.count, at)...)
            case 6: if !b.isEmpty { b.insert(contentsOf: b[at..<min(b.count, at + 1 + Int(rng.next() % 64))], at: at) }
            default:
                // A 32-bit little-endian boundary value (lengths, counts, dimensions).
                let values: [UInt32] = [0, 1, 0x7FFF_FFFF, 0x8000_0000, 0xFFFF_FFFF, 0xFFFF, UInt32(b.count)]
                let v = values[Int(rng.next() % UInt64(values.count))]
                if at + 4 <= b.count { withUnsafeBytes(of: v.littleEndian) { for i in 0..<4 { b[at + i] = $0[i] } } }
            }
        }
        return b
    }

    /// Runs `read` on `iterations` mutations of the seeds; prints and returns the tally.
    @discardableResult
    static func fuzz(_ name: String, seeds: [[UInt8]], seed: UInt64, fixUp: (inout [UInt8]) -> Void = { _ in }, _ read: ([UInt8]) throws -> Void) -> (accepted: Int, refused: Int) {
        var rng = SeededGenerator(seed: seed)
        var accepted = 0, refused = 0
        var slowest: UInt64 = 0
        let rssBefore = ServerStats.residentBytes()
        let started = MonotonicClock.nanoseconds()
        for i in 0..<iterations {
            var input = mutate(seeds[i % seeds.count], &rng)
            if rng.next() % 2 == 0 { fixUp(&input) }
            let t0 = MonotonicClock.nanoseconds()
            do { try read(input); accepted += 1 } catch { refused += 1 }
            slowest = max(slowest, MonotonicClock.nanoseconds() - t0)
        }
        let seconds = Double(MonotonicClock.nanoseconds() - started) / 1e9
        let growth = ServerStats.residentBytes() - rssBefore
        print(String(format: "fuzz %@: %d inputs in %.1f s, %d accepted, %d refused, slowest %.2f ms, resident memory %+.1f MB",
                     name, iterations, seconds, accepted, refused, Double(slowest) / 1e6, Double(growth) / 1e6))
        XCTAssertLessThan(growth, 256 << 20, "\(name): memory grew by \(growth) bytes")
        return (accepted, refused)
    }

    func testProtocolReader() {
        let seeds = [
            #"{"id":1,"op":"search","collection":"items","vector":[0.1,-2,3e-5,1.4e-33],"k":5,"params":{"ef":32,"nprobe":2,"rerank":3},"filter":{"exclude_ids":[1,2],"include_ids":[3]},"with_payload":true}"#,
            #"{"op":"upsert","collection":"c","points":[{"id":4,"vector":[1,2],"payload":{"t":["a",{"b":null}],"u":"\u00e9\n"}}]}"#,
            #"{"op":"search_batch","collection":"c","vectors":[[1,2],[3,4]],"k":2}"#,
            #"{"op":"recommend","collection":"m","user_id":18446744073709551615,"exclude_seen":false,"id":[true,false,null]}"#,
            #"{"op":"delete","collection":"c","ids":[1,2,3]}"#,
            #"{"op":"auth","token":"abc"}"#,
            #"{"op":"recommend","collection":"m","history":[5,7],"features":{"age":31,"tags":["a","b"],"vip":true,"x":null},"context":{"hour":21,"device":"tv"},"k":3}"#,
            #"{"op":"upsert","collection":"c","points":[{"id":9,"features":{"genre":"g1","tags":["t"],"price":2.5},"payload":{"title":"x"}}]}"#,
        ].map { Array($0.utf8) }
        let parser = RequestParser(limits: ServerLimits())
        let r = Self.fuzz("protocol reader", seeds: seeds, seed: 1) { line in
            if case let .failure(_, e) = line.withUnsafeBufferPointer({ parser.parse($0) }) { throw e }
        }
        XCTAssertGreaterThan(r.refused, 0)
    }

    func testWriteAheadLogReader() throws {
        var bytes = WriteAheadLog.magic
        for r: WriteAheadLog.Record in [.upsert(id: 1, vector: [1, 2, 3], payload: Array(#"{"a":1}"#.utf8)), .delete(id: 9),
                                        .upsert(id: 2, vector: [], payload: nil), .upsert(id: 3, vector: [0.5], payload: [])] {
            WriteAheadLog.encode(r, into: &bytes)
        }
        // Half the inputs get every record's checksum recomputed, so the record decoder itself is
        // exercised rather than only the checksum test.
        func fixChecksums(_ b: inout [UInt8]) {
            var p = WriteAheadLog.magic.count
            let h = WriteAheadLog.recordHeaderSize
            while p + h <= b.count {
                let length = Int(b.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: p, as: UInt32.self) }.littleEndian)
                guard length <= b.count - p - h else { return }
                let lengthCRC = Checksum.crc32c(Array(b[p..<p + 4]))
                let crc = Checksum.crc32c(Array(b[p + h..<p + h + length]), continuing: lengthCRC)
                withUnsafeBytes(of: lengthCRC.littleEndian) { for i in 0..<4 { b[p + 4 + i] = $0[i] } }
                withUnsafeBytes(of: crc.littleEndian) { for i in 0..<4 { b[p + 8 + i] = $0[i] } }
                p += h + length
            }
        }
        Self.fuzz("write-ahead log reader", seeds: [bytes], seed: 2, fixUp: fixChecksums) { data in
            _ = try WriteAheadLog.decode(data, path: "fuzz.wal", after: .zero) { _, _ in }
        }
    }

    /// Readers that take a path: the mutated bytes are written to a file first.
    private func fuzzFile(_ name: String, seedFile: String, in dir: TemporaryDirectory, seed: UInt64, _ read: (String) throws -> Void) throws {
        let seedBytes = dir.read(seedFile)
        XCTAssertFalse(seedBytes.isEmpty)
        try read(dir.file(seedFile))  // the seed itself is valid
        let ext = (seedFile as NSString).pathExtension
        // Memory-backed when the machine has /dev/shm: writing the input is most of the cost.
        let shm = FileManager.default.isWritableFile(atPath: "/dev/shm")
        let target = shm ? "/dev/shm/shortlist-fuzz-\(getpid())-\(seed).\(ext)" : dir.file("fuzz-input." + ext)
        defer { try? FileManager.default.removeItem(atPath: target) }
        Self.fuzz(name, seeds: [seedBytes], seed: seed) { bytes in
            guard FileManager.default.createFile(atPath: target, contents: Data(bytes)) else { throw CocoaError(.fileWriteUnknown) }
            try read(target)
        }
    }

    func testIndexFileReaders() throws {
        let dir = TemporaryDirectory()
        let base = Fixtures.clustered(count: 300, dimension: 8, seed: 3)
        try FlatIndex(metric: .l2, vectors: Fixtures.clustered(count: 60, dimension: 8, seed: 3)).save(to: dir.file("flat.idx"))
        try HNSWIndex(metric: .cosine, vectors: base, configuration: HNSWConfiguration(m: 4, efConstruction: 16)).save(to: dir.file("hnsw.idx"))
        try IVFPQIndex(metric: .l2, vectors: base, configuration: IVFPQConfiguration(nlist: 2, m: 2, refine: true)).save(to: dir.file("ivf.idx"))
        for (file, seed) in [("flat.idx", 3), ("hnsw.idx", 4), ("ivf.idx", 5)] {
            try fuzzFile("index file reader (\(file))", seedFile: file, in: dir, seed: UInt64(seed)) { _ = try IndexLoader.load(path: $0) }
        }
    }

    func testVectorAndIdFileReaders() throws {
        let dir = TemporaryDirectory()
        let m = Fixtures.clustered(count: 12, dimension: 5, seed: 6)
        try VectorFile.write(m, to: dir.file("v.npy"))
        try VectorFile.write(m, to: dir.file("v.fvecs"))
        dir.write("v.jsonl", text: (0..<4).map { #"{"id":\#($0),"vector":\#(ServerFixtures.vectorJSON(m.rowArray($0))),"payload":{"t":"x"}}"# }.joined(separator: "\n") + "\n")
        try IdFile.write([1, 2, 3, 18446744073709551615], to: dir.file("ids.txt"))
        for (file, seed) in [("v.npy", 7), ("v.fvecs", 8), ("v.jsonl", 9)] {
            try fuzzFile("vector file reader (\(file))", seedFile: file, in: dir, seed: UInt64(seed)) { _ = try VectorFile.read(path: $0) }
        }
        try fuzzFile("id file reader", seedFile: "ids.txt", in: dir, seed: 10) { _ = try IdFile.read(path: $0) }
    }

    func testPayloadAndModelFileReaders() throws {
        let dir = TemporaryDirectory()
        _ = try ServerFixtures.writeDocumentCollection(in: dir)
        try fuzzFile("payload file reader", seedFile: "items.idx.payloads.jsonl", in: dir, seed: 11) { _ = try PayloadFile.read(path: $0) }
        let movies = try ServerFixtures.writeRecommenderCollection(in: dir)
        let modelDir = try XCTUnwrap(movies.modelDirectory)
        try FileManager.default.copyItem(atPath: modelDir + "/model.slm", toPath: dir.file("model.slm"))
        try fuzzFile("model file reader", seedFile: "model.slm", in: dir, seed: 12) { _ = try ModelFile.load(path: $0) }
    }

    /// A version-2 model with every kind of field (stored features, encoders, history, context,
    /// bias, seen sets), and the feature files and schema a training run reads.
    func testFeatureModelAndFeatureFileReaders() throws {
        let dir = TemporaryDirectory()
        let shows = try ServerFixtures.writeFeatureCollection(in: dir)
        try FileManager.default.copyItem(atPath: try XCTUnwrap(shows.modelDirectory) + "/model.slm", toPath: dir.file("features.slm"))
        try fuzzFile("model file reader (features, v2)", seedFile: "features.slm", in: dir, seed: 13) { _ = try ModelFile.load(path: $0) }
        let data = TemporaryDirectory()
        _ = FeatureFixtures.write(to: data, users: 12, items: 8)
        try fuzzFile("feature table reader (csv)", seedFile: "items.csv", in: data, seed: 14) { _ = try FeatureTable.read(path: $0, idColumn: "item") }
        try fuzzFile("feature table reader (jsonl)", seedFile: "users.jsonl", in: data, seed: 15) { _ = try FeatureTable.read(path: $0, idColumn: "user") }
        try fuzzFile("feature schema reader", seedFile: "schema.json", in: data, seed: 16) { _ = try FeatureSchema.read(path: $0) }
    }
}
