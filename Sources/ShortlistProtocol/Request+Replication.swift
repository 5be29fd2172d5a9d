/// The ops a cluster primary sends its replicas (`docs/cluster.md`): they carry the primary's
/// write-ahead log, and a snapshot for a replica the log can no longer bring up to date.
extension Request {
    /// `replicate`: append `records` (write-ahead log records, version-3 encoding with their
    /// positions) that follow the record at `position`. Without `position` (and records), asks
    /// where the replica's log stands. `term` is the sender's tenure as primary: a replica
    /// refuses a term older than one it has seen.
    public struct Replicate: Equatable, Sendable {
        public var collection: String
        public var term: UInt64
        public var position: LogPosition?
        public var records: [UInt8]

        public init(collection: String, term: UInt64, position: LogPosition? = nil, records: [UInt8] = []) {
            self.collection = collection
            self.term = term
            self.position = position
            self.records = records
        }
    }

    /// `install`: a snapshot sent in parts. Each part request writes `data` at `offset` of the
    /// snapshot's `part` file (offset 0 starts the file over); the commit (`position` alone)
    /// replaces the replica's collection and log with the snapshot, which holds the log up to
    /// `position`.
    public struct Install: Equatable, Sendable {
        public enum Part: String, Sendable, CaseIterable {
            case index, payloads
        }

        public var collection: String
        public var term: UInt64
        public var part: Part?
        public var offset: Int
        public var data: [UInt8]
        /// Set on the commit.
        public var position: LogPosition?

        public init(collection: String, term: UInt64, part: Part, offset: Int, data: [UInt8]) {
            self.collection = collection
            self.term = term
            self.part = part
            self.offset = offset
            self.data = data
        }

        public init(collection: String, term: UInt64, commit position: LogPosition) {
            self.collection = collection
            self.term = term
            self.offset = 0
            self.data = []
            self.position = position
        }
    }
}
