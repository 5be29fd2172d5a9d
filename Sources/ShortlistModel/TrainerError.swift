/// Why training, evaluation, or loading a model failed.
public enum TrainerError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A hyperparameter is out of range.
    case badConfiguration(String)
    /// A model or checkpoint file is not one (bad magic), is truncated, or fails its checksums.
    case corruptModel(String)
    /// The model file was written by a newer format version.
    case unsupportedVersion(found: UInt32, supported: UInt32)
    /// The data does not match the model (other user or item counts, other features).
    case dataMismatch(String)
    /// The requested split holds no users with interactions.
    case emptySplit(String)
    /// A user or item id the model does not know.
    case unknownId(UInt64)
    /// A request names a feature or context the model does not read.
    case badFeature(String)
    /// The folder holds factors (`train --model als`), not the towers the operation needs.
    case needsTowers(String)

    public var description: String {
        switch self {
        case let .badConfiguration(reason): return "bad training configuration: \(reason)"
        case let .corruptModel(reason): return "not a valid model file: \(reason)"
        case let .unsupportedVersion(found, supported):
            return "model file version \(found) is newer than this build supports (\(supported)); upgrade Shortlist"
        case let .dataMismatch(reason): return "the data does not match the model: \(reason)"
        case let .emptySplit(name): return "the \(name) split has no users with interactions"
        case let .unknownId(id): return "id \(id) is not in the model"
        case let .badFeature(reason): return reason
        case let .needsTowers(folder):
            return "\(folder) holds an ALS model (als.json): user and item factors, no towers to serve; `serve` needs a two-tower model (train without --model als), or serve its item_embeddings.npy as a plain index and query with rows of user_embeddings.npy"
        }
    }
}
