import Foundation
import Logging
import ShortlistCore
import ShortlistIndex
import Synchronization

/// Problems with a collection's files or description, at start-up.
public enum CollectionError: Error, Equatable, CustomStringConvertible {
    case invalidDescription(String, reason: String)
    case badPayloadLine(path: String, line: Int, reason: String)

    public var description: String {
        switch self {
        case let .invalidDescription(text, reason): return "collection '\(text)': \(reason)"
        case let .badPayloadLine(path, line, reason): return "\(path), line \(line): \(reason)"
        }
    }
}
