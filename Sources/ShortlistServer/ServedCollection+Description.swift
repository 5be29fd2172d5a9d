extension ServedCollection {
    /// How a collection is described on the command line and in `info`.
    public struct Description: Sendable, Equatable {
        public var name: String
        public var indexPath: String
        /// A payload file to read at start-up when the server's own (`INDEX.payloads.jsonl`)
        /// does not exist yet. Read only: `save` writes the server's own file.
        public var payloadPath: String?
        /// A model folder from `shortlist train` (enables `recommend`).
        public var modelDirectory: String?

        public init(name: String, indexPath: String, payloadPath: String? = nil, modelDirectory: String? = nil) {
            self.name = name
            self.indexPath = indexPath
            self.payloadPath = payloadPath
            self.modelDirectory = modelDirectory
        }

        /// Parses `NAME=INDEX[,payloads=FILE][,model=DIR]`.
        public init(parsing text: String) throws {
            guard let eq = text.firstIndex(of: "="), eq != text.startIndex else {
                throw CollectionError.invalidDescription(text, reason: "expected NAME=INDEX[,payloads=FILE][,model=DIR]")
            }
            let name = String(text[..<eq])
            guard name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" || $0 == "-" || $0 == "." }) else {
                throw CollectionError.invalidDescription(text, reason: "a name uses letters, digits, '_', '-' and '.'")
            }
            var parts = text[text.index(after: eq)...].split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            guard let index = parts.first, !index.isEmpty else { throw CollectionError.invalidDescription(text, reason: "no index path") }
            parts.removeFirst()
            self.init(name: name, indexPath: index)
            for part in parts {
                if part.hasPrefix("payloads=") { payloadPath = String(part.dropFirst(9)) }
                else if part.hasPrefix("model=") { modelDirectory = String(part.dropFirst(6)) }
                else { throw CollectionError.invalidDescription(text, reason: "unknown option '\(part)' (payloads=FILE, model=DIR)") }
            }
        }
    }
}
