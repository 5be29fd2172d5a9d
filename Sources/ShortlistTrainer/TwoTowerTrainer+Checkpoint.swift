import ShortlistModel
import Foundation
import ShortlistCore
import ShortlistData

extension TwoTowerTrainer {
    /// Writes everything needed to continue this run exactly (`resume(from:data:)`), atomically.
    public func saveCheckpoint(to path: String, source: InteractionSource?) throws {
        try ModelFile.saveCheckpoint(self, source: source, to: path)
    }

    /// A trainer continuing the run saved at `path`, on the same `data`.
    public static func resume(from path: String, data: InteractionData) throws -> TwoTowerTrainer {
        try ModelFile.loadCheckpoint(path: path, data: data)
    }
}
