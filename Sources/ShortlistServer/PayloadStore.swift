import ShortlistIndex

/// A collection's payloads (each item's JSON text as stored) with the indexes of their fields
/// (`PayloadIndex`), changed together so a filter always sees what `get` would return. A value
/// type: a snapshot copies it for free until the next change.
struct PayloadStore {
    /// Payload text by id.
    private(set) var texts: [UInt64: [UInt8]] = [:]
    private(set) var fields = PayloadIndex()

    init(_ texts: [UInt64: [UInt8]] = [:]) {
        for (id, text) in texts { self[id] = text }
    }

    subscript(id: UInt64) -> [UInt8]? {
        get { texts[id] }
        set {
            texts[id] = newValue
            if let newValue { fields.set(id, fields: PayloadFields.indexable(newValue)) } else { fields.remove(id) }
        }
    }

    /// The values of `field` in the payload of `id`, as text (read from the field indexes, not
    /// the JSON): what `boost` and `group_by` compare.
    func values(_ field: String, of id: UInt64) -> [String] { fields.values(field, of: id).map(\.text) }

    var count: Int { texts.count }
    var keys: Dictionary<UInt64, [UInt8]>.Keys { texts.keys }
    var values: Dictionary<UInt64, [UInt8]>.Values { texts.values }
}
