import ShortlistCore
import ShortlistTestSupport
import XCTest

final class VectorMatrixTests: XCTestCase {
    func testAppendGrowsAndKeepsRowsAligned() throws {
        let m = try VectorMatrix(dimension: 3)
        for i in 0..<1000 { try m.append([Float(i), Float(i) + 0.5, -Float(i)]) }
        XCTAssertEqual(m.count, 1000)
        XCTAssertEqual(m.rowArray(999), [999, 999.5, -999])
        XCTAssertEqual(Int(bitPattern: m.baseAddress) % 64, 0)
        XCTAssertThrowsError(try m.append([1, 2])) { XCTAssertEqual($0 as? VectorError, .dimensionMismatch(expected: 3, actual: 2)) }
        let first = m.appendZeroRows(2)
        XCTAssertEqual(first, 1000)
        XCTAssertEqual(m.rowArray(1001), [0, 0, 0])
        m.truncate(to: 10)
        XCTAssertEqual(m.count, 10)
    }

    func testInvalidDimensionsAreRefused() {
        XCTAssertThrowsError(try VectorMatrix(dimension: 0))
        XCTAssertThrowsError(try VectorMatrix(dimension: VectorMatrix.maximumDimension + 1))
        XCTAssertThrowsError(try VectorMatrix(dimension: 4, values: [1, 2, 3]))
    }

    func testNormalizeAndNonFiniteDetection() throws {
        let m = try VectorMatrix(dimension: 2, values: [3, 4, 0, 2, 1, .nan])
        XCTAssertEqual(m.firstNonFinite()?.row, 2)
        XCTAssertEqual(m.firstNonFinite()?.column, 1)
        XCTAssertThrowsError(try m.validateFinite(rowOffset: 10)) { XCTAssertEqual($0 as? VectorError, .nonFinite(row: 12, column: 1)) }
        m.truncate(to: 2)
        try m.normalizeRows()
        XCTAssertEqual(m.rowArray(0)[0], 0.6, accuracy: 1e-6)
        XCTAssertEqual(m.rowArray(1), [0, 1])
        let zero = try VectorMatrix(dimension: 2, values: [1, 1, 0, 0])
        XCTAssertThrowsError(try zero.normalizeRows()) { XCTAssertEqual($0 as? VectorError, .zeroNorm(row: 1)) }
    }

    func testLargeMatricesUseHugePageAlignment() throws {
        let m = try VectorMatrix(count: 100_000, dimension: 128)
        XCTAssertEqual(Int(bitPattern: m.baseAddress) % (2 << 20), 0)
        XCTAssertEqual(m.rowArray(99_999).count, 128)
    }
}
