import CShortlistKernels
import ShortlistCore
import ShortlistTestSupport
import XCTest

/// Every kernel, at every instruction-set level this CPU has, against a naive reference.
final class KernelTests: XCTestCase {
    private var levels: [sk_isa] {
        [SK_ISA_SCALAR, SK_ISA_AVX2, SK_ISA_AVX512].filter { $0.rawValue <= sk_isa_detected().rawValue }
    }

    override func tearDown() {
        _ = sk_isa_force(sk_isa_detected())
    }

    private func forEachLevel(_ body: (String) throws -> Void) rethrows {
        for level in levels {
            XCTAssertEqual(sk_isa_force(level), 1)
            try body(String(cString: sk_isa_name(level)))
        }
    }

    func testForcingAnUnsupportedLevelChangesNothing() {
        let before = sk_isa_active()
        XCTAssertEqual(sk_isa_force(sk_isa(rawValue: 7)), 0)
        XCTAssertEqual(sk_isa_active(), before)
    }

    func testPairDistancesMatchReferenceForManyDimensions() {
        let dims = Array(1...70) + [96, 100, 127, 128, 129, 384, 784]
        forEachLevel { isa in
            for d in dims {
                let a = Fixtures.uniform(count: d, seed: UInt64(d))
                let b = Fixtures.uniform(count: d, seed: UInt64(d) + 1000)
                var l2 = 0.0, ip = 0.0
                for i in 0..<d { l2 += Double(a[i] - b[i]) * Double(a[i] - b[i]); ip += Double(a[i]) * Double(b[i]) }
                XCTAssertEqual(Double(sk_l2sq(a, b, d)), l2, accuracy: 1e-4 * max(1, l2), "l2 d=\(d) \(isa)")
                XCTAssertEqual(Double(sk_ip(a, b, d)), ip, accuracy: 1e-4 * max(1, abs(ip)), "ip d=\(d) \(isa)")
            }
        }
    }

    func testHalfPrecisionKernelsAndConversions() {
        // Every finite half value round-trips exactly through float.
        let allHalves = (0..<UInt16.max).filter { ($0 & 0x7C00) != 0x7C00 }
        var asFloat = [Float](repeating: 0, count: allHalves.count)
        sk_f16_to_f32(allHalves, &asFloat, allHalves.count)
        for (h, f) in zip(allHalves, asFloat) { XCTAssertEqual(Float(Float16(bitPattern: h)).bitPattern, f.bitPattern) }
        var back = [UInt16](repeating: 0, count: asFloat.count)
        sk_f32_to_f16(asFloat, &back, asFloat.count)
        XCTAssertEqual(back, allHalves)
        // Narrowing rounds to nearest even, like Swift's Float16(Float).
        let samples = Fixtures.uniform(count: 5000, seed: 13).map { $0 * 70_000 } + [1e-8, -3e-6, 65504, 65520, 1e9, .infinity]
        var halves = [UInt16](repeating: 0, count: samples.count)
        sk_f32_to_f16(samples, &halves, samples.count)
        for (f, h) in zip(samples, halves) { XCTAssertEqual(h, Float16(f).bitPattern, "\(f)") }
        forEachLevel { isa in
            for d in [1, 7, 15, 16, 17, 31, 33, 100, 384] {
                let q = Fixtures.uniform(count: d, seed: UInt64(d))
                let x = Fixtures.uniform(count: d, seed: UInt64(d) + 7)
                var xh = [UInt16](repeating: 0, count: d)
                sk_f32_to_f16(x, &xh, d)
                let xr = xh.map { Float(Float16(bitPattern: $0)) }
                let l2 = sk_l2sq(q, xr, d), ip = sk_ip(q, xr, d)
                XCTAssertEqual(sk_l2sq_f16(q, xh, d), l2, accuracy: 1e-5 * max(1, l2), "l2 d=\(d) \(isa)")
                XCTAssertEqual(sk_ip_f16(q, xh, d), ip, accuracy: 1e-5 * max(1, abs(ip)), "ip d=\(d) \(isa)")
                var out = [Float](repeating: 0, count: 2)
                let rows = xh + xh
                sk_ip_f16_ids(q, rows, d, [1, 0], 2, &out)
                XCTAssertEqual(out[0], sk_ip_f16(q, xh, d))
                sk_l2sq_f16_ids(q, rows, d, [0, 1], 2, &out)
                XCTAssertEqual(out[1], sk_l2sq_f16(q, xh, d))
            }
        }
    }

    func testRowAndIdBatchesEqualPairCalls() {
        let d = 37, n = 50
        let base = Fixtures.uniform(count: n * d, seed: 3)
        let q = Fixtures.uniform(count: d, seed: 4)
        let ids: [UInt32] = [5, 0, 49, 17, 17, 3]
        forEachLevel { isa in
            var rows = [Float](repeating: 0, count: n), byId = [Float](repeating: 0, count: ids.count)
            base.withUnsafeBufferPointer { b in
                sk_l2sq_rows(q, b.baseAddress!, n, d, &rows)
                for i in 0..<n { XCTAssertEqual(rows[i], sk_l2sq(q, b.baseAddress! + i * d, d), "\(isa)") }
                sk_ip_rows(q, b.baseAddress!, n, d, &rows)
                for i in 0..<n { XCTAssertEqual(rows[i], sk_ip(q, b.baseAddress! + i * d, d), "\(isa)") }
                sk_l2sq_ids(q, b.baseAddress!, d, ids, ids.count, &byId)
                for (i, id) in ids.enumerated() { XCTAssertEqual(byId[i], sk_l2sq(q, b.baseAddress! + Int(id) * d, d)) }
                sk_ip_ids(q, b.baseAddress!, d, ids, ids.count, &byId)
                for (i, id) in ids.enumerated() { XCTAssertEqual(byId[i], sk_ip(q, b.baseAddress! + Int(id) * d, d)) }
            }
        }
    }

    /// Bounded L2: the full distance when it is below the bound, otherwise some value ≥ the bound.
    /// The SQ8 walk's integer dot products are exact (no rounding, no overflow at the largest
    /// query the index prepares) at every level, and the id batch applies its affine map.
    func testEightBitCodeDotProductsAreExact() {
        var g = SeededGenerator(seed: 17)
        forEachLevel { isa in
            for stride in [32, 64, 96, 384, 800] {
                let limit = Int16(min(32_767, Int(Int32.max) / (255 * stride)))
                let rows = 5
                var codes = [UInt8](repeating: 0, count: rows * stride)
                for i in codes.indices { codes[i] = UInt8(truncatingIfNeeded: g.next()) }
                for i in 0..<stride { codes[i] = 255 }  // row 0: every code at its largest
                var q = (0..<stride).map { _ in Int16(Int(g.next() % UInt64(2 * Int(limit) + 1)) - Int(limit)) }
                for i in 0..<stride / 2 { q[i] = limit }
                let norms: [Float] = (0..<rows).map { Float($0) * 0.5 }
                var out = [Float](repeating: 0, count: 3)
                let ids: [UInt32] = [4, 0, 2]
                sk_sq8_ids(q, codes, stride, ids, 3, 1.5, -0.25, norms, &out)
                for (j, row) in ids.enumerated() {
                    let exact = (0..<stride).reduce(Int64(0)) { $0 + Int64(q[$1]) * Int64(codes[Int(row) * stride + $1]) }
                    XCTAssertEqual(Int64(sk_sq8_dot(q, Array(codes[Int(row) * stride..<(Int(row) + 1) * stride]), stride)), exact, "stride \(stride) \(isa)")
                    XCTAssertEqual(out[j], 1.5 - 0.25 * Float(exact) + norms[Int(row)], accuracy: 1e-6 * max(1, abs(0.25 * Float(exact))), "stride \(stride) \(isa)")
                }
                // All at their extremes: the guard keeps the sum inside Int32.
                let extreme = [Int16](repeating: limit, count: stride), full = [UInt8](repeating: 255, count: stride)
                XCTAssertEqual(Int64(sk_sq8_dot(extreme, full, stride)), Int64(limit) * 255 * Int64(stride), "extreme \(stride) \(isa)")
            }
        }
    }

    func testBoundedDistancesAreExactBelowTheBoundAndAtLeastItAbove() {
        forEachLevel { isa in
            for d in [3, 128, 257, 300, 784] {
                let n = 40
                let base = Fixtures.uniform(count: n * d, seed: UInt64(d))
                let q = Fixtures.uniform(count: d, seed: UInt64(d) + 1)
                let ids = (0..<UInt32(n)).reversed().map { $0 }
                var full = [Float](repeating: 0, count: n), bounded = [Float](repeating: 0, count: n)
                sk_l2sq_ids(q, base, d, ids, n, &full)
                let bound = full.sorted()[n / 2]
                sk_l2sq_ids_bounded(q, base, d, ids, n, bound, &bounded)
                for i in 0..<n {
                    for (exact, got, name) in [(full[i], bounded[i], "f32")] {
                        if exact < bound * 0.999 {
                            XCTAssertEqual(got, exact, accuracy: 1e-4 * exact, "\(name) d=\(d) \(isa) row \(i)")
                        } else if exact > bound * 1.001 {
                            XCTAssertGreaterThanOrEqual(got, bound, "\(name) d=\(d) \(isa) row \(i)")
                            XCTAssertLessThanOrEqual(got, exact * 1.0001, "\(name) d=\(d) \(isa) row \(i)")
                        }
                    }
                }
            }
        }
    }

    func testAffineSelectionKeepsExactlyTheValuesBelowTheThreshold() {
        for n in [0, 1, 7, 8, 15, 16, 17, 33, 1000] {
            let ip = Fixtures.uniform(count: n, seed: UInt64(n) + 11)
            let bias = Fixtures.uniform(count: n, seed: UInt64(n) + 12).map { $0 + 2 }
            for (alpha, useBias) in [(Float(-2), true), (Float(-1), false)] {
                let threshold: Float = useBias ? 1.9 : -0.3
                var expected: [(UInt32, Float)] = []
                for j in 0..<n {
                    let v = (useBias ? bias[j] : 0) + alpha * ip[j]
                    if v < threshold { expected.append((UInt32(j), v)) }
                }
                forEachLevel { isa in
                    var idx = [UInt32](repeating: 0, count: max(n, 1)), dist = [Float](repeating: 0, count: max(n, 1))
                    let kept = bias.withUnsafeBufferPointer { bp in
                        sk_select_affine_below(ip, useBias ? bp.baseAddress : nil, alpha, n, threshold, &idx, &dist)
                    }
                    XCTAssertEqual(kept, expected.count, "n=\(n) \(isa)")
                    for i in 0..<min(kept, expected.count) {
                        XCTAssertEqual(idx[i], expected[i].0, "n=\(n) \(isa)")
                        XCTAssertEqual(dist[i], expected[i].1, accuracy: 1e-6, "n=\(n) \(isa)")
                    }
                    var below = [UInt32](repeating: 0, count: max(n, 1))
                    let count = sk_select_below(ip, n, 0.25, &below)
                    XCTAssertEqual(Array(below.prefix(count)), ip.indices.filter { ip[$0] < 0.25 }.map(UInt32.init), "\(isa)")
                }
            }
        }
    }

    /// Fast-scan sums and selections against a naive sum over unpacked codes, for sub-quantizer
    /// counts that exercise the AVX-512 tail pair, lists that end inside a block, and the 16-bit
    /// ceiling (m = 256 with every table entry 255).
    func testFastScanSumsAndSelectionMatchNaiveSums() {
        var rng = SeededGenerator(seed: 5)
        for m in [1, 2, 3, 4, 6, 8, 16, 30, 32, 98, 256] {
            let mpad = (m + 1) & ~1
            for n in [1, 31, 32, 33, 100, 1000] {
                let saturated = m == 256 && n == 33
                let codes = (0..<n * m).map { _ in UInt8(rng.next() % 16) }
                var lut = [UInt8](repeating: 0, count: mpad * 16)
                for i in 0..<m * 16 { lut[i] = saturated ? 255 : UInt8(rng.next() % 256) }
                // Pack by the documented layout.
                var packed = [UInt8](repeating: 0, count: (n + 31) / 32 * mpad * 16)
                for i in 0..<n {
                    for j in 0..<m {
                        let byte = (i / 32 * mpad + j) * 16 + i % 16
                        packed[byte] |= i % 32 < 16 ? codes[i * m + j] : codes[i * m + j] << 4
                    }
                }
                let sums = (0..<n).map { i in (0..<m).reduce(0) { $0 + Int(lut[$1 * 16 + Int(codes[i * m + $1])]) } }
                let median = UInt16(sums.sorted()[n / 2])
                forEachLevel { isa in
                    for threshold in [UInt16.max, median] {
                        var index = [UInt32](repeating: 0, count: n), value = [UInt16](repeating: 0, count: n)
                        let found = sk_pq4_scan(lut, mpad, packed, n, threshold, &index, &value)
                        let expected = (0..<n).filter { sums[$0] <= Int(threshold) }
                        XCTAssertEqual(Array(index.prefix(found)), expected.map(UInt32.init), "m=\(m) n=\(n) \(isa) threshold \(threshold)")
                        XCTAssertEqual(Array(value.prefix(found)).map(Int.init), expected.map { sums[$0] }, "m=\(m) n=\(n) \(isa)")
                    }
                }
            }
        }
    }

    /// A quantized table reproduces the float table's sums within half a step per sub-quantizer.
    func testFastScanTableQuantizationIsWithinHalfAStepPerSubquantizer() {
        var rng = SeededGenerator(seed: 9)
        for m in [1, 5, 16, 64] {
            let mpad = (m + 1) & ~1
            let table: [Float] = (0..<m * 16).map { j in
                let spread: Float = j % 3 == 0 ? 4 : 1
                return Float(j / 16) * 0.3 + rng.nextUnitFloat() * spread - 2
            }
            let addend = Fixtures.uniform(count: m * 16, seed: UInt64(m))
            for useAddend in [false, true] {
              var luts: [[UInt8]] = []
              forEachLevel { isa in
                var lut = [UInt8](repeating: 7, count: mpad * 16)
                var step: Float = 0, offset: Float = 0
                addend.withUnsafeBufferPointer { a in
                    sk_pq4_quantize_lut(table, useAddend ? a.baseAddress : nil, m, mpad, &lut, &step, &offset)
                }
                luts.append(lut)
                XCTAssertTrue(lut[(m * 16)...].allSatisfy { $0 == 0 }, "padding rows are zero")
                XCTAssertTrue(lut.contains(255), "the widest table uses the whole range")
                for _ in 0..<200 {
                    let code = (0..<m).map { _ in Int(rng.next() % 16) }
                    var exact: Float = 0, sum = 0
                    for j in 0..<m {
                        let e = j * 16 + code[j]
                        exact += table[e] + (useAddend ? addend[e] : 0)
                        sum += Int(lut[e])
                    }
                    let approx = offset + step * Float(sum)
                    XCTAssertEqual(approx, exact, accuracy: Float(m) * step / 2 * 1.001 + 1e-4, "m=\(m) \(isa)")
                }
              }
              // Levels may round a value that sits on a half step differently, never by more.
              for lut in luts.dropFirst() { XCTAssertTrue(zip(lut, luts[0]).allSatisfy { abs(Int($0) - Int($1)) <= 1 }, "m=\(m)") }
            }
        }
    }

    /// Direct nearest-centroid search in low dimensions picks a centroid at the minimum distance
    /// (naive double-precision reference), for k that is and is not a multiple of 16 or of 256.
    func testNearestTransposedFindsTheNearestCentroid() {
        for (d, k) in [(1, 16), (2, 16), (8, 256), (5, 33), (16, 300), (32, 16)] {
            let n = 200
            let points = Fixtures.uniform(count: n * d, seed: UInt64(d * 1000 + k))
            let centroids = Fixtures.uniform(count: k * d, seed: UInt64(d * 1000 + k + 1))
            let table = TransposedCentroids(rows: centroids, count: k, dimension: d, stride: d)
            forEachLevel { isa in
                var nearest = [Int32](repeating: -1, count: n), values = [Float](repeating: 0, count: n)
                table.nearest(points, count: n, stride: d, into: &nearest, values: &values)
                for i in 0..<n {
                    var best = Double.infinity
                    var dist = [Double](repeating: 0, count: k)
                    for c in 0..<k {
                        dist[c] = (0..<d).reduce(0.0) { $0 + Double(points[i * d + $1] - centroids[c * d + $1]) * Double(points[i * d + $1] - centroids[c * d + $1]) }
                        best = min(best, dist[c])
                    }
                    let norm = (0..<d).reduce(0.0) { $0 + Double(points[i * d + $1]) * Double(points[i * d + $1]) }
                    XCTAssertTrue((0..<k).contains(Int(nearest[i])), "d=\(d) k=\(k) \(isa)")
                    XCTAssertEqual(dist[Int(nearest[i])], best, accuracy: 1e-4, "d=\(d) k=\(k) \(isa) row \(i)")
                    XCTAssertEqual(Double(values[i]) + norm, best, accuracy: 1e-4, "d=\(d) k=\(k) \(isa) row \(i)")
                }
            }
        }
    }

    func testFirstNonFiniteFindsNaNAndInfinityAnywhere() {
        for n in [1, 8, 9, 100] {
            for pos in [0, n / 2, n - 1] {
                for bad in [Float.nan, .infinity, -.infinity] {
                    var v = [Float](repeating: 1, count: n)
                    v[pos] = bad
                    XCTAssertEqual(sk_first_nonfinite(v, n), pos)
                }
            }
            let fine = Fixtures.uniform(count: n) + [.greatestFiniteMagnitude, -.greatestFiniteMagnitude, .leastNonzeroMagnitude]
            XCTAssertEqual(sk_first_nonfinite(fine, fine.count), fine.count)
        }
    }

    func testCRC32CKnownValueAndBothPathsAgree() {
        let text = Array("123456789".utf8)
        XCTAssertEqual(sk_crc32c(0, text, text.count), 0xE306_9283)
        XCTAssertEqual(sk_crc32c_portable(0, text, text.count), 0xE306_9283)
        let data = (0..<10_007).map { UInt8(truncatingIfNeeded: $0 &* 2_654_435_761 >> 7) }
        XCTAssertEqual(sk_crc32c(0, data, data.count), sk_crc32c_portable(0, data, data.count))
        // Continuation: crc(a + b) == crc(b, continuing crc(a)).
        let whole = sk_crc32c(0, data, data.count)
        let first = sk_crc32c(0, data, 5000)
        let rest = data.withUnsafeBufferPointer { sk_crc32c(first, $0.baseAddress! + 5000, data.count - 5000) }
        XCTAssertEqual(rest, whole)
    }

    func testScaledSoftmaxRowMatchesDoublePrecisionAtEveryLevel() {
        var generator = SeededGenerator(seed: 21)
        for n in [1, 2, 7, 8, 15, 16, 17, 33, 100, 2048, 2051] {
            var logits = (0..<n).map { _ in generator.nextGaussian() * 8 }
            if n > 3 { logits[1] = -.infinity; logits[n - 1] = 85 }   // a masked entry, a large one
            let mx = logits.map(Double.init).max()!
            let sum = logits.reduce(0.0) { $0 + exp(Double($1) - mx) }
            let expected = logits.map { exp(Double($0) - mx) / sum }
            forEachLevel { level in
                var row = logits
                let lse = sk_softmax_row(&row, n, 0.5)
                XCTAssertEqual(Double(lse), mx + log(sum), accuracy: 1e-4 * max(1, abs(mx)), "\(level) n=\(n)")
                for i in 0..<n {
                    XCTAssertEqual(Double(row[i]), 0.5 * expected[i], accuracy: 1e-6 + 1e-5 * expected[i], "\(level) n=\(n) i=\(i)")
                }
                if n > 3 { XCTAssertEqual(row[1], 0, "a masked logit must get exactly zero probability (\(level))") }
            }
        }
    }
}
