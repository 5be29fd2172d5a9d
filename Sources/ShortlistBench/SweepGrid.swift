import Foundation
import ShortlistIndex

/// The knob values a sweep visits: `ef` for HNSW specs, `nprobe` (with `rerank`) for IVF.
public struct SweepGrid: Equatable, Sendable {
    /// HNSW `ef` values (default 10 … 256).
    public var ef = [10, 16, 32, 48, 64, 96, 128, 256]
    /// IVF `nprobe` values (default 1 … 128).
    public var nprobe = [1, 2, 4, 8, 16, 32, 64, 128]
    /// IVF `rerank` for every point (nil: the index's default).
    public var rerank: Int?

    public init() {}

    /// The points visited for an index of `spec` (one for a flat index).
    public func points(for spec: IndexSpec) -> [SearchParameters] {
        switch spec {
        case .flat: return [SearchParameters()]
        case .hnsw: return ef.map { SearchParameters(ef: $0) }
        case .ivfpq: return nprobe.map { SearchParameters(nprobe: $0, rerank: rerank) }
        }
    }

    /// Every `ef` point, then every `nprobe` point.
    public var allPoints: [SearchParameters] { ef.map { SearchParameters(ef: $0) } + nprobe.map { SearchParameters(nprobe: $0, rerank: rerank) } }

    /// Reads `{"ef":[…],"nprobe":[…],"rerank":R}` (any of the keys; the others keep their defaults).
    public init(file path: String) throws {
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        guard let o = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw BenchmarkError.badSweepFile(path: path, reason: "not a JSON object")
        }
        let unknown = Set(o.keys).subtracting(["ef", "nprobe", "rerank"])
        guard unknown.isEmpty, !o.isEmpty else { throw BenchmarkError.badSweepFile(path: path, reason: "keys are ef, nprobe and rerank; found \(o.keys.sorted())") }
        for key in ["ef", "nprobe"] where o[key] != nil {
            guard let values = o[key] as? [Int], !values.isEmpty else {
                throw BenchmarkError.badSweepFile(path: path, reason: "\"\(key)\" must be a non-empty array of integers")
            }
            if key == "ef" { ef = values } else { nprobe = values }
        }
        if let r = o["rerank"] {
            guard let rerank = r as? Int else { throw BenchmarkError.badSweepFile(path: path, reason: "\"rerank\" must be an integer") }
            self.rerank = rerank
        }
    }
}
