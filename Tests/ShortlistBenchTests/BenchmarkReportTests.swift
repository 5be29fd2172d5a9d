import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import ShortlistTestSupport
import XCTest
@testable import ShortlistBench

final class BenchmarkReportTests: XCTestCase {
    /// `bench --repeat`: every figure is its own median over the passes (one slow pass moves nothing).
    func testRepeatedPassesReportEachFiguresMedian() {
        typealias R = Benchmark.SingleQueryResult
        let passes = [R(recall: 0.9, qps: 1000, mean: 10, p50: 9, p99: 40), R(recall: 0.9, qps: 200, mean: 50, p50: 45, p99: 400),
                      R(recall: 0.9, qps: 1100, mean: 9, p50: 8, p99: 30)]
        let m = R.median(of: passes)
        XCTAssertEqual([m.recall, m.qps, m.mean, m.p50, m.p99], [0.9, 1000, 10, 9, 40])
        XCTAssertEqual(R.median(of: [passes[1]]).qps, 200)
    }

    func testParetoFrontierKeepsOnlyUndominatedPoints() {
        typealias P = BenchmarkReport.Point
        let points = [P(algo: "a", params: "1", recall: 0.90, qps: 1000), P(algo: "a", params: "2", recall: 0.95, qps: 800),
                      P(algo: "b", params: "1", recall: 0.93, qps: 700), P(algo: "b", params: "2", recall: 0.99, qps: 300),
                      P(algo: "c", params: "", recall: 1.0, qps: 100), P(algo: "c", params: "x", recall: 0.80, qps: 900)]
        XCTAssertEqual(BenchmarkReport.paretoFrontier(points).map { "\($0.algo)\($0.params)" }, ["a1", "a2", "b2", "c"])
    }

    func testPeersCSVWithQuotedFields() throws {
        let dir = TemporaryDirectory()
        dir.write("peers.csv", text: """
        dataset,algo,params,build_params,recall,single_qps,lib
        wn,hnswlib,ef=10,"M=16,efC=200",0.85954,25163.9,hnswlib 0.8.0
        wn,faiss-ivf,"nprobe=4,rerank=2","a,b",0.9,1000,faiss

        """)
        let peers = try BenchmarkReport.readPeers(path: dir.file("peers.csv"))
        XCTAssertEqual(peers.map(\.algo), ["hnswlib", "faiss-ivf"])
        XCTAssertEqual(peers.map(\.params), ["ef=10", "nprobe=4,rerank=2"])
        XCTAssertEqual(peers.map(\.recall), [0.85954, 0.9])
        XCTAssertEqual(peers.map(\.singleQPS), [25163.9, 1000])
        // CRLF line ends, as Python's csv module writes them.
        dir.write("crlf.csv", text: "algo,params,recall,single_qps\r\nhnswlib,ef=10,0.5,10\r\nhnswlib,ef=20,0.6,8\r\n")
        XCTAssertEqual(try BenchmarkReport.readPeers(path: dir.file("crlf.csv")).map(\.params), ["ef=10", "ef=20"])
        dir.write("bad.csv", text: "algo,recall\nx,1\n")
        XCTAssertThrowsError(try BenchmarkReport.readPeers(path: dir.file("bad.csv")))
    }

    func testSVGIsWellFormedAndDrawsEverySeries() throws {
        var plot = RecallPlot(title: "t <&>", series: [
            .init(name: "ours", points: [(0.9, 1200), (0.95, 800), (1.0, 300)]),
            .init(name: "peer", points: [(0.91, 900), (0.96, 500)], isPeer: true),
        ])
        plot.xLabel = "recall@10"
        let svg = plot.svg()
        let doc = try XMLDocument(data: Data(svg.utf8))
        XCTAssertEqual(doc.rootElement()?.name, "svg")
        XCTAssertEqual(svg.components(separatedBy: "<polyline").count - 1, 2)
        XCTAssertEqual(svg.components(separatedBy: "<circle").count - 1, 3)
        XCTAssertEqual(svg.components(separatedBy: "stroke-dasharray").count - 1, 2, "the peer's line and legend entry are dashed")
        XCTAssertTrue(svg.contains("t &lt;&amp;&gt;"))
        // Every point lies inside the plot frame.
        let frame = try XCTUnwrap(svg.range(of: #"<rect x="([0-9.]+)" y="([0-9.]+)" width="([0-9.]+)" height="([0-9.]+)" fill="none""#, options: .regularExpression))
        XCTAssertFalse(svg[frame].isEmpty)
        let range = RecallPlot.recallRange([0.9, 1.0])
        XCTAssertLessThanOrEqual(range.low, 0.9)
        XCTAssertGreaterThan(range.high, 1.0)
    }

    func testMinimumRecallNarrowsBothAxesToThePointsAboveIt() {
        var plot = RecallPlot(title: "t", series: [
            .init(name: "ivf", points: [(0.3, 2_000_000), (0.95, 800), (1.0, 300)]),
            .init(name: "peer", points: [(0.96, 500)], isPeer: true),
        ])
        let wide = plot.svg()
        XCTAssertTrue(wide.contains(">1M<") && wide.contains(">0.3<"), "without it, the low point sets both ranges")
        plot.minRecall = 0.94
        let narrow = plot.svg()
        XCTAssertFalse(narrow.contains(">1M<"), "the speed axis ignores points left of the frame")
        XCTAssertTrue(narrow.contains(">1k<"))
        XCTAssertTrue(narrow.contains(">0.95<") && !narrow.contains(">0.3<") && !narrow.contains(">0.90<"))
    }
}
