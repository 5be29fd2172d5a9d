import ShortlistData
import ShortlistIndex

/// Ground truth files (`shortlist groundtruth`, ANN-benchmarks' `.ivecs`) hold rows of the base
/// file; an index built with `--ids` answers with external ids. Recall must compare the two in
/// one id space: `GroundTruthIds.translate` rewrites the rows as the ids the index gave them.
public enum GroundTruthIds {
    public enum Failure: Error, Equatable, CustomStringConvertible {
        /// A ground-truth row number past the index's rows.
        case rowOutOfRange(row: Int32, rows: Int)
        /// An id that does not fit an `.ivecs` value (int32).
        case idTooLarge(UInt64)

        public var description: String {
            switch self {
            case let .rowOutOfRange(row, rows):
                return "the ground truth names base row \(row), but the index has \(rows) rows: was it computed from the base file the index was built from?"
            case let .idTooLarge(id):
                return "the index's id \(id) does not fit an .ivecs value (int32); recall cannot be computed against row-numbered ground truth"
            }
        }
    }

    /// A warning to print when `index` has changed since it was built (it holds deleted rows, so
    /// its rows may no longer be the base file's and recall against row-numbered ground truth is
    /// only approximate); nil otherwise.
    public static func warning(for index: any VectorIndex) -> String? {
        guard let m = index as? any MutableVectorIndex, m.deadRows > 0 else { return nil }
        return "warning: the index holds \(m.deadRows) deleted rows, so it changed since it was built; its rows may no longer be the base file's, and recall against this ground truth is approximate"
    }

    /// `truth` (rows of the base file, −1 padding) in `index`'s external ids: base row r becomes
    /// the id the index gave it (`inputIds`). Unchanged when every base row's id is its row
    /// number (built without `--ids`). Returns the translated matrix and whether anything changed.
    public static func translate(_ truth: IntMatrix, for index: any VectorIndex) throws -> (truth: IntMatrix, translated: Bool) {
        guard let mutable = index as? any MutableVectorIndex else { return (truth, false) }
        let ids = mutable.inputIds
        if ids.enumerated().allSatisfy({ UInt64($0.offset) == $0.element }) { return (truth, false) }
        var out = truth
        for i in out.values.indices where out.values[i] >= 0 {
            let row = out.values[i]
            guard Int(row) < ids.count else { throw Failure.rowOutOfRange(row: row, rows: ids.count) }
            guard ids[Int(row)] <= UInt64(Int32.max) else { throw Failure.idTooLarge(ids[Int(row)]) }
            out.values[i] = Int32(ids[Int(row)])
        }
        return (out, true)
    }
}
