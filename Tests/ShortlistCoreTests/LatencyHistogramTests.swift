import XCTest
@testable import ShortlistCore

final class LatencyHistogramTests: XCTestCase {
    func testSmallValuesAreExact() {
        var h = LatencyHistogram()
        for v in 1...100 { h.record(UInt64(v)) }
        XCTAssertEqual(h.value(atQuantile: 0.5), 50)
        XCTAssertEqual(h.value(atQuantile: 0.99), 99)
        XCTAssertEqual(h.value(atQuantile: 1), 100)
        XCTAssertEqual(h.minimum, 1)
        XCTAssertEqual(h.mean, 50.5)
    }

    func testLargeValuesWithinPrecision() {
        var h = LatencyHistogram()
        var rng = SeededGenerator(seed: 3)
        var values: [UInt64] = []
        for _ in 0..<10_000 {
            let v = 100 + rng.next() % 50_000_000
            values.append(v)
            h.record(v)
        }
        values.sort()
        for q in [0.5, 0.9, 0.99, 0.999] {
            let exact = values[Int((q * Double(values.count)).rounded(.up)) - 1]
            let got = h.value(atQuantile: q)
            XCTAssertGreaterThanOrEqual(got, exact, "q \(q)")
            XCTAssertLessThanOrEqual(Double(got), Double(exact) * 1.016 + 1, "q \(q)")
        }
        XCTAssertEqual(h.value(atQuantile: 1), values.last)
    }

    func testBucketsAreContiguousAndMonotone() {
        var previous = -1
        for v in stride(from: UInt64(0), to: 1 << 20, by: 7) {
            let b = LatencyHistogram.bucket(of: v)
            XCTAssertGreaterThanOrEqual(b, previous)
            XCTAssertLessThanOrEqual(v, LatencyHistogram.highestValue(inBucket: b))
            previous = b
        }
        XCTAssertLessThan(LatencyHistogram.bucket(of: .max), LatencyHistogram.bucketCount)
    }

    func testMergeAddsCounts() {
        var a = LatencyHistogram(), b = LatencyHistogram()
        a.record(10); b.record(1000); b.record(5)
        a.merge(b)
        XCTAssertEqual(a.count, 3)
        XCTAssertEqual(a.minimum, 5)
        XCTAssertEqual(a.maximum, 1000)
        XCTAssertEqual(a.value(atQuantile: 0.5), 10)
    }
}
