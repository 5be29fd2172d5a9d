import ShortlistModel
import ShortlistCore
import ShortlistData

/// The item payload file a model folder carries (`item_payloads.jsonl`, one
/// `{"id":…,"payload":{"title":…,"genres":[…]}}` per item, the server's payload format): each
/// item's title and the values of its categorical and tag features, so served hits read as
/// items and the re-ranking stage has fields to work on.
public enum ItemPayloads {
    /// Writes the file atomically; returns false (writing nothing) when the data names no titles
    /// and the model reads no categorical item features.
    @discardableResult
    public static func write(model: TwoTowerModel, data: InteractionData, to path: String) throws -> Bool {
        let fields = model.itemFields.filter { f in
            f.role == .attribute && f.stored != nil && (f.encoder?.kind == .categorical || f.encoder?.kind == .tags)
        }
        let hasTitles = data.itemTitles.count == model.itemIds.count
        guard hasTitles || !fields.isEmpty else { return false }
        var o = JSONOutput(capacity: model.itemIds.count * 64)
        for (row, id) in model.itemIds.enumerated() {
            o.raw("{\"id\":"); o.uint(id); o.raw(",\"payload\":{")
            var first = true
            if hasTitles && !data.itemTitles[row].isEmpty {
                o.raw("\"title\":"); o.string(data.itemTitles[row])
                first = false
            }
            for f in fields {
                let encoder = f.encoder!
                let values = f.stored!.indices(of: row).compactMap { $0 > 0 ? encoder.vocabulary[Int($0) - 1] : nil }
                if values.isEmpty { continue }
                if !first { o.comma() }
                first = false
                o.string(f.name); o.raw(":")
                if encoder.kind == .categorical {
                    o.string(values[0])
                } else {
                    o.raw("[")
                    for (k, v) in values.enumerated() {
                        if k > 0 { o.comma() }
                        o.string(v)
                    }
                    o.raw("]")
                }
            }
            o.raw("}}\n")
        }
        try AtomicFileWriter.write(o.bytes, to: path)
        return true
    }
}
