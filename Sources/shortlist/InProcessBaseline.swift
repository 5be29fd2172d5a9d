import Foundation
import ShortlistCore
import ShortlistData
import ShortlistIndex
import ShortlistServer

/// Single-thread, in-process reference figures for `loadtest --compare-index`: the index's own
/// single-query search over the load test's queries, and the same request lines run through the
/// server's protocol code (parse, search, encode) without a network. Each figure is the median
/// of three timed passes after a warm-up pass. Loaded once, measured as often as the load test
/// has rounds, so every round's ratio compares figures taken back to back.
final class InProcessBaseline {
    private let index: any VectorIndex
    private let vectors: [[Float]]
    private let processor: RequestProcessor
    private let session: RequestProcessor.Session
    private let lines: [String]
    private let k: Int
    private let parameters: SearchParameters
    private var cursor = 0

    init(indexPath: String, queries: String, bodies: [[UInt8]], k: Int, parameters: SearchParameters) throws {
        let collection = try ServedCollection(ServedCollection.Description(name: "baseline", indexPath: indexPath))
        index = try IndexLoader.load(path: indexPath)
        let matrix = try VectorFile.read(path: queries).matrix
        vectors = (0..<matrix.count).map { matrix.rowArray($0) }
        // The load test's bodies name the server's collection; the baseline's is "baseline".
        processor = try RequestProcessor(collections: [collection])
        session = processor.makeSession()
        lines = bodies.map { body in
            var text = "{" + String(decoding: body, as: UTF8.self)
            if let r = text.range(of: #""collection":"[^"]*""#, options: .regularExpression) { text.replaceSubrange(r, with: #""collection":"baseline""#) }
            return text
        }
        self.k = k
        self.parameters = parameters
    }

    /// `index.search` queries per second on this thread, over about `seconds`.
    func searchQPS(seconds: Double) throws -> Double {
        try rate(seconds: seconds) { q in _ = try index.search(vectors[q], k: k, parameters: parameters) }
    }

    /// The request lines through the protocol code, per second on this thread, over about `seconds`.
    func protocolQPS(seconds: Double) -> Double {
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
