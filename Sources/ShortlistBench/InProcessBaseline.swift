import Foundation
import ShortlistCore
import ShortlistData
import ShortlistIndex
import ShortlistProtocol
import ShortlistServer

/// Single-thread, in-process reference figures for `loadtest --compare-index`: the index's own
/// single-query search over the load test's queries, and the same request lines run through the
/// server's protocol code (parse, search, encode) without a network. Each figure is the median
/// of three timed passes after a warm-up pass. Loaded once, measured as often as the load test
/// has rounds, so every round's ratio compares figures taken back to back.
public final class InProcessBaseline {
    private let index: any VectorIndex
    private let vectors: [[Float]]
    private let processor: RequestProcessor
    private let session: RequestProcessor.Session
    private let lines: [String]
    private let k: Int
    private let parameters: SearchParameters
    private var cursor = 0

    /// Loads the index at `indexPath` twice: as an index, and as the one collection of an
    /// in-memory `RequestProcessor` that is sent `search` lines for `queries` (count ×
    /// dimension) with `options`, encoded as a client would with `vectorEncoding`.
    public init(indexPath: String, queries matrix: VectorMatrix, options: QueryOptions, vectorEncoding: RequestEncoder.VectorEncoding) throws {
        let collection = try ServedCollection(ServedCollection.Description(name: "baseline", indexPath: indexPath))
        index = try IndexLoader.load(path: indexPath)
        vectors = (0..<matrix.count).map { matrix.rowArray($0) }
        processor = try RequestProcessor(collections: [collection])
        session = processor.makeSession()
        let encoder = RequestEncoder(vectorEncoding: vectorEncoding)
        lines = vectors.map { v in
            String(decoding: encoder.encode(RequestLine(.search(.init(collection: "baseline", vector: v, query: options)))), as: UTF8.self)
        }
        k = options.k
        parameters = options.parameters
    }

    /// `index.search` queries per second on this thread, over about `seconds`.
    public func searchQPS(seconds: Double) throws -> Double {
        try rate(seconds: seconds) { q in _ = try index.search(vectors[q], k: k, parameters: parameters) }
    }

    /// The request lines through the protocol code, per second on this thread, over about `seconds`.
    public func protocolQPS(seconds: Double) -> Double {
        rate(seconds: seconds) { q in
            let reply = processor.handle(lines[q], session: session)
            precondition(reply.hasPrefix("{\"id\":null,\"ok\":true"), reply)
        }
    }

    private func rate(seconds: Double, _ body: (Int) throws -> Void) rethrows -> Double {
        let passSeconds = max(0.25, seconds / 4)
        var rates: [Double] = []
        for pass in 0..<4 {
            let start = DispatchTime.now().uptimeNanoseconds
            var n = 0
            while Double(DispatchTime.now().uptimeNanoseconds - start) < passSeconds * 1e9 {
                for _ in 0..<32 {
                    try body(cursor % vectors.count)
                    cursor += 1
                    n += 1
                }
            }
            if pass > 0 { rates.append(Double(n) / (Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)) }
        }
        return rates.sorted()[1]
    }
}
