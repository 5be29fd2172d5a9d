import ShortlistCore
import ShortlistIndex

/// Checks that an index holds a model's item embeddings under the model's item ids. An index
/// built from `item_embeddings.npy` without `--ids item_ids.txt` numbers its rows 0, 1, 2, …:
/// `recommend` would then return row numbers as item ids (wrong items, blank titles) with no
/// error. Refused instead.
public enum ModelIndexMatch {
    /// Why an index does not belong to a model.
    public struct Mismatch: Error, Equatable, CustomStringConvertible {
        public var checked: Int
        public var missing: Int
        public var misplaced: Int

        public var description: String {
            "the index's ids are not the model's item ids: of \(checked) model items checked, \(missing) are not in the index and \(misplaced) hold another item's vector. Build the index from the model's item_embeddings with --ids item_ids.txt (shortlist train --build-index does this)"
        }
    }

    /// The model ranks by inner product (its embeddings carry an item-bias column) but the index
    /// by another metric: its order would differ from the model's.
    public struct MetricMismatch: Error, Equatable, CustomStringConvertible {
        public var model: Metric
        public var index: Metric

        public var description: String {
            "the model ranks by \(model) (its item embeddings carry a bias column) but the index was built with metric \(index): rebuild it with --metric \(model) (shortlist train --build-index chooses it)"
        }
    }

    /// Throws `MetricMismatch` when the model ranks by inner product and the index does not
    /// (an index over unit-length embeddings ranks alike by cosine, inner product or L2).
    public static func verify(metric: Metric, index: any VectorIndex) throws {
        if metric == .ip && index.metric != .ip { throw MetricMismatch(model: metric, index: index.metric) }
    }

    /// Samples up to `samples` of the model's items (evenly spaced) and checks that, for at least
    /// 90% of them, the index holds a vector under the item's id whose nearest model embedding
    /// among the sampled ones is the item's own (by cosine; robust to quantization and to
    /// normalisation by the index). `embeddings` is `itemIds.count × dimension`, row-major.
    public static func verify(itemIds: [UInt64], embeddings: VectorMatrix, index: any MutableVectorIndex, samples: Int = 256) throws {
        guard !itemIds.isEmpty, embeddings.dimension == index.dimension else { return }
        let step = max(1, itemIds.count / samples)
        let rows = Array(stride(from: 0, to: itemIds.count, by: step).prefix(samples))
        let unit = rows.map { normalised(embeddings.rowArray($0)) }
        var missing = 0, misplaced = 0
        for (i, row) in rows.enumerated() {
            guard let stored = index.storedVector(id: itemIds[row]) else {
                missing += 1
                continue
            }
            let s = normalised(stored)
            var best = -Float.infinity, bestIndex = -1
            for (j, e) in unit.enumerated() {
                let c = zip(s, e).reduce(Float(0)) { $0 + $1.0 * $1.1 }
                if c > best { best = c; bestIndex = j }
            }
            // Equal embeddings (duplicate items) tie: the item's own counts as found.
            let own = zip(s, unit[i]).reduce(Float(0)) { $0 + $1.0 * $1.1 }
            if bestIndex != i && own < best - 1e-5 { misplaced += 1 }
        }
        if Double(missing + misplaced) > 0.1 * Double(rows.count) {
            throw Mismatch(checked: rows.count, missing: missing, misplaced: misplaced)
        }
    }

    private static func normalised(_ v: [Float]) -> [Float] {
        let n = v.reduce(Float(0)) { $0 + $1 * $1 }.squareRoot()
        return n > 0 ? v.map { $0 / n } : v
    }
}
