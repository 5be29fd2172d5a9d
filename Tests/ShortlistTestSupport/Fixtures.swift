import Foundation
import ShortlistCore

/// Seeded data sets and reference computations shared by the test targets.
public enum Fixtures {
    /// `count × dimension` points drawn around `clusters` Gaussian centres (spread 1, centres
    /// spread `separation`). The centres are fixed by `centreSeed`, the points by `seed`, so base
    /// and query sets made with different `seed`s share their clusters. Norms vary by a factor of
    /// `normSpread` when > 1.
    public static func clustered(count: Int, dimension: Int, clusters: Int = 10, separation: Float = 4,
                                 normSpread: Float = 1, seed: UInt64 = 42, centreSeed: UInt64 = 1) -> VectorMatrix {
        var centreRNG = SeededGenerator(seed: centreSeed)
        var centres = [Float](repeating: 0, count: clusters * dimension)
        for i in centres.indices { centres[i] = centreRNG.nextGaussian() * separation }
        var rng = SeededGenerator(seed: seed)
        let m = try! VectorMatrix(count: count, dimension: dimension)
        for r in 0..<count {
            let c = Int(rng.next() % UInt64(clusters))
            let scale: Float = normSpread > 1 ? 1 + rng.nextUnitFloat() * (normSpread - 1) : 1
            for j in 0..<dimension {
                m.row(r)[j] = (centres[c * dimension + j] + rng.nextGaussian()) * scale
            }
        }
        return m
    }

    /// Uniform random values in [-1, 1), fixed by `seed`.
    public static func uniform(count: Int, seed: UInt64 = 7) -> [Float] {
        var rng = SeededGenerator(seed: seed)
        return (0..<count).map { _ in rng.nextUnitFloat() * 2 - 1 }
    }

    /// Naive double-precision distance under `metric` (smaller is closer); cosine normalises both sides.
    public static func referenceDistance(_ metric: Metric, _ a: [Float], _ b: [Float]) -> Double {
        precondition(a.count == b.count)
        switch metric {
        case .l2: return zip(a, b).reduce(0.0) { $0 + Double($1.0 - $1.1) * Double($1.0 - $1.1) }
        case .ip: return -zip(a, b).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
        case .cosine:
            let dot = zip(a, b).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
            let na = a.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
            let nb = b.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
            return -dot / (na * nb)
        }
    }

    /// The exact top-k row numbers of `query` among `base`'s rows, ties by lower row.
    public static func referenceTopK(_ metric: Metric, base: VectorMatrix, query: [Float], k: Int) -> [Int] {
        let scored = (0..<base.count).map { (referenceDistance(metric, query, base.rowArray($0)), $0) }
        return scored.sorted { $0.0 < $1.0 || ($0.0 == $1.0 && $0.1 < $1.1) }.prefix(k).map { $0.1 }
    }
}

/// A fresh directory under the system temporary directory, removed when released.
public final class TemporaryDirectory {
    public let path: String

    public init() {
        let base = NSTemporaryDirectory() + "shortlist-test-" + UUID().uuidString
        try! FileManager.default.createDirectory(atPath: base, withIntermediateDirectories: true)
        path = base
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    /// A path inside the directory.
    public func file(_ name: String) -> String { path + "/" + name }

    /// Writes raw bytes to `name` and returns its path.
    @discardableResult
    public func write(_ name: String, _ bytes: [UInt8]) -> String {
        let p = file(name)
        precondition(FileManager.default.createFile(atPath: p, contents: Data(bytes)), "cannot write \(p)")
        return p
    }

    /// Writes text to `name` and returns its path.
    @discardableResult
    public func write(_ name: String, text: String) -> String { write(name, Array(text.utf8)) }

    /// Reads `name` back.
    public func read(_ name: String) -> [UInt8] { Array(FileManager.default.contents(atPath: file(name)) ?? Data()) }
}

/// Little-endian byte building for hand-made malformed files.
public extension Array where Element == UInt8 {
    mutating func appendLE<T: FixedWidthInteger>(_ v: T) { Swift.withUnsafeBytes(of: v.littleEndian) { append(contentsOf: $0) } }
    mutating func appendLE(_ v: Float) { appendLE(v.bitPattern) }
}
