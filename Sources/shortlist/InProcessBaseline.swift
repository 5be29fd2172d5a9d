import Foundation
import ShortlistCore
import ShortlistData
import ShortlistIndex
import ShortlistServer

/// Single-thread, in-process reference figures for `loadtest --compare-index`: the index's own
/// single-query search over the load test's queries, and the same request lines run through the
/// server's protocol code (parse, search, encode) without a network. Each is the median of three
/// timed passes after a warm-up pass.
struct InProcessBaseline {
    var searchQPS: Double
    var processorQPS: Double

    static func measure(indexPath: String, queries: String, bodies: [[UInt8]], k: Int, parameters: SearchParameters, seconds: Double) throws -> InProcessBaseline {
        let collection = try ServedCollection(ServedCollection.Description(name: "baseline", indexPath: indexPath))
        let index = try IndexLoader.load(path: indexPath)
        let matrix = try VectorFile.read(path: queries).matrix
        let vectors = (0..<matrix.count).map { matrix.rowArray($0) }
        // The load test's bodies name the server's collection; the baseline's is "baseline".
        let processor = try RequestProcessor(collections: [collection])
        let session = processor.makeSession()
        let lines: [String] = bodies.map { body in
            var text = "{" + String(decoding: body, as: UTF8.self)
            if let r = text.range(of: #""collection":"[^"]*""#, options: .regularExpression) { text.replaceSubrange(r, with: #""collection":"baseline""#) }
            return text
        }
        let passSeconds = max(0.5, seconds / 4)
        func rate(_ body: (Int) throws -> Void) rethrows -> Double {
            var rates: [Double] = []
            var i = 0
            for pass in 0..<4 {
                let start = DispatchTime.now().uptimeNanoseconds
                var n = 0
                while Double(DispatchTime.now().uptimeNanoseconds - start) < passSeconds * 1e9 {
                    for _ in 0..<32 { try body(i % vectors.count); i += 1; n += 1 }
                }
                if pass > 0 { rates.append(Double(n) / (Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)) }
            }
            return rates.sorted()[1]
        }
        let searchQPS = try rate { q in _ = try index.search(vectors[q], k: k, parameters: parameters) }
        let processorQPS = rate { q in
            let reply = processor.handle(lines[q], session: session)
            precondition(reply.hasPrefix("{\"id\":null,\"ok\":true"), reply)
        }
        return InProcessBaseline(searchQPS: searchQPS, processorQPS: processorQPS)
    }
}
