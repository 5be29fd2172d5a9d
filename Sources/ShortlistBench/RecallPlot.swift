import Foundation

/// A recall-versus-throughput chart as a standalone SVG file, drawn without any plotting
/// library: recall@k on x (linear, fitted to the data), queries per second on y (log scale,
/// whole decades), one line with markers per index, a legend, and dashed lines for series
/// measured by other tools (peers).
public struct RecallPlot {
    public struct Series {
        public var name: String
        /// (recall, queries/s) points, joined in the order given (a sweep's order traces its curve).
        public var points: [(recall: Double, qps: Double)]
        /// Drawn dashed (a peer's measurement rather than ours).
        public var isPeer: Bool

        public init(name: String, points: [(recall: Double, qps: Double)], isPeer: Bool = false) {
            self.name = name
            self.points = points
            self.isPeer = isPeer
        }
    }

    /// The series a point belongs to: its algo, plus whatever its params set besides the swept
    /// knob (`ef`, `nprobe`), so a peer's rows at two `rerank` values become two lines.
    public static func seriesName(algo: String, params: String) -> String {
        let fixed = params.split(separator: ",").filter { !$0.hasPrefix("ef=") && !$0.hasPrefix("nprobe=") }
        return fixed.isEmpty ? algo : algo + " " + fixed.joined(separator: ",")
    }

    /// Groups (algo, params, recall, qps) points into series, in order of first appearance.
    public static func group(_ points: [(algo: String, params: String, recall: Double, qps: Double)], isPeer: Bool) -> [Series] {
        var order: [String] = []
        var byName: [String: [(recall: Double, qps: Double)]] = [:]
        for p in points {
            let name = seriesName(algo: p.algo, params: p.params)
            if byName[name] == nil { order.append(name) }
            byName[name, default: []].append((p.recall, p.qps))
        }
        return order.map { Series(name: $0, points: byName[$0]!, isPeer: isPeer) }
    }

    public var title: String
    public var xLabel = "recall@10"
    public var yLabel = "queries per second, one thread (log scale)"
    public var series: [Series]
    public var width = 900.0
    public var height = 560.0
    /// Left end of the recall axis: points below it fall outside the frame (their lines still
    /// run into it) and do not stretch the speed axis. nil: the smallest recall drawn. Default nil.
    public var minRecall: Double?

    public init(title: String, series: [Series]) {
        self.title = title
        self.series = series
    }

    static let palette = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22"]

    /// The x range: from a round value at or below the smallest recall to half a step past the
    /// largest (so points at recall 1 are not drawn on the frame), and its tick step.
    static func recallRange(_ values: [Double]) -> (low: Double, high: Double, step: Double) {
        guard let lo = values.min(), let hi = values.max() else { return (0, 1, 0.1) }
        let step = hi - lo > 0.3 ? 0.1 : (hi - lo > 0.08 ? 0.02 : 0.01)
        let low = max(0, (lo / step).rounded(.down) * step)
        let high = max(low + step, (hi / step).rounded(.up) * step)
        return (low, high + step / 2, step)
    }

    public func svg() -> String {
        let all = series.flatMap(\.points).filter { $0.qps > 0 && $0.recall >= (minRecall ?? 0) }
        let (x0, x1, xStep) = Self.recallRange(all.map(\.recall))
        let minQ = all.map(\.qps).min() ?? 1, maxQ = all.map(\.qps).max() ?? 10
        let d0 = floor(log10(minQ)), d1 = max(d0 + 1, ceil(log10(maxQ)))
        // The legend column is as wide as the longest name (~7.5 px per character at 13 px).
        let longest = Double(series.map(\.name.count).max() ?? 10)
        let left = 90.0, right = max(180, 60 + 7.5 * longest), top = 50.0, bottom = 60.0
        let width = self.width - 230 + right
        let plotW = width - left - right, plotH = height - top - bottom
        func px(_ r: Double) -> Double { left + (r - x0) / (x1 - x0) * plotW }
        func py(_ q: Double) -> Double { top + (1 - (log10(q) - d0) / (d1 - d0)) * plotH }
        func f(_ v: Double) -> String { String(format: "%.1f", v) }
        func esc(_ s: String) -> String {
            s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
        }
        var out = """
        <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(width))" height="\(Int(height))" viewBox="0 0 \(Int(width)) \(Int(height))" font-family="Helvetica, Arial, sans-serif" font-size="13">
        <rect width="100%" height="100%" fill="white"/>
        <text x="\(f(left + plotW / 2))" y="28" text-anchor="middle" font-size="16" font-weight="bold">\(esc(title))</text>

        """
        // Grid and ticks: every decade (and 2×, 5×) on y, round recall steps on x.
        for decade in Int(d0)...Int(d1) {
            for m in [1.0, 2.0, 5.0] {
                let q = m * pow(10, Double(decade))
                guard q >= pow(10, d0) * 0.999, q <= pow(10, d1) * 1.001 else { continue }
                let y = py(q)
                out += "<line x1=\"\(f(left))\" y1=\"\(f(y))\" x2=\"\(f(left + plotW))\" y2=\"\(f(y))\" stroke=\"\(m == 1 ? "#cccccc" : "#eeeeee")\"/>\n"
                let label = q >= 1_000_000 ? "\(Int(q / 1_000_000))M" : q >= 1000 ? "\(Int(q / 1000))k" : "\(Int(q))"
                out += "<text x=\"\(f(left - 8))\" y=\"\(f(y + 4))\" text-anchor=\"end\" fill=\"#444\">\(label)</text>\n"
            }
        }
        var r = x0
        while r <= x1 - xStep / 2 + 1e-9 {
            let x = px(r)
            out += "<line x1=\"\(f(x))\" y1=\"\(f(top))\" x2=\"\(f(x))\" y2=\"\(f(top + plotH))\" stroke=\"#eeeeee\"/>\n"
            out += "<text x=\"\(f(x))\" y=\"\(f(top + plotH + 18))\" text-anchor=\"middle\" fill=\"#444\">\(String(format: xStep < 0.1 ? "%.2f" : "%.1f", r))</text>\n"
            r += xStep
        }
        out += "<rect x=\"\(f(left))\" y=\"\(f(top))\" width=\"\(f(plotW))\" height=\"\(f(plotH))\" fill=\"none\" stroke=\"#333\"/>\n"
        out += "<text x=\"\(f(left + plotW / 2))\" y=\"\(f(height - 15))\" text-anchor=\"middle\">\(esc(xLabel))</text>\n"
        out += "<text transform=\"translate(22 \(f(top + plotH / 2))) rotate(-90)\" text-anchor=\"middle\">\(esc(yLabel))</text>\n"
        // Series, clipped to the plot area.
        out += "<clipPath id=\"plot\"><rect x=\"\(f(left))\" y=\"\(f(top))\" width=\"\(f(plotW))\" height=\"\(f(plotH))\"/></clipPath>\n<g clip-path=\"url(#plot)\">\n"
        for (i, s) in series.enumerated() {
            let color = Self.palette[i % Self.palette.count]
            let pts = s.points.filter { $0.qps > 0 }
            guard !pts.isEmpty else { continue }
            let path = pts.map { "\(f(px($0.recall))),\(f(py($0.qps)))" }.joined(separator: " ")
            out += "<polyline points=\"\(path)\" fill=\"none\" stroke=\"\(color)\" stroke-width=\"2\"\(s.isPeer ? " stroke-dasharray=\"6 4\"" : "")/>\n"
            for p in pts {
                out += s.isPeer
                    ? "<rect x=\"\(f(px(p.recall) - 3.5))\" y=\"\(f(py(p.qps) - 3.5))\" width=\"7\" height=\"7\" fill=\"white\" stroke=\"\(color)\" stroke-width=\"1.5\"/>\n"
                    : "<circle cx=\"\(f(px(p.recall)))\" cy=\"\(f(py(p.qps)))\" r=\"3.5\" fill=\"\(color)\"/>\n"
            }
        }
        out += "</g>\n"
        // Legend.
        for (i, s) in series.enumerated() {
            let color = Self.palette[i % Self.palette.count]
            let y = top + 10 + Double(i) * 22
            let x = left + plotW + 20
            out += "<line x1=\"\(f(x))\" y1=\"\(f(y))\" x2=\"\(f(x + 28))\" y2=\"\(f(y))\" stroke=\"\(color)\" stroke-width=\"2\"\(s.isPeer ? " stroke-dasharray=\"6 4\"" : "")/>\n"
            out += "<text x=\"\(f(x + 36))\" y=\"\(f(y + 4))\">\(esc(s.name))</text>\n"
        }
        out += "</svg>\n"
        return out
    }
}
