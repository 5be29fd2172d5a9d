import Foundation
import ShortlistCore
import ShortlistData
import ShortlistModel

/// Training checkpoints (`checkpoint.slm`): the model file's sections plus `OPTM` (optimiser
/// moments), `TRAN` (epoch, step, generator, early stopping, history) and `BEST` (the best
/// epoch's parameters). `docs/file-format.md` describes the layout.
extension ModelFile {
    /// Writes the model with `source` as its data description.
    public static func save(_ model: TwoTowerModel, source: InteractionSource?, to path: String) throws {
        try save(model, dataDescription: source?.serialized, to: path)
    }

    static func saveCheckpoint(_ trainer: TwoTowerTrainer, source: InteractionSource?, to path: String) throws {
        let buffers = trainer.model.parameterBuffers
        var sections = modelSections(trainer.model, source: source?.serialized)
        var optimizer = BinaryWriter()
        optimizer.write(UInt32(buffers.count))
        for b in buffers {
            appendFloats(&optimizer, UnsafeBufferPointer(start: b.firstMoment, count: b.count))
            appendFloats(&optimizer, UnsafeBufferPointer(start: b.secondMoment, count: b.count))
        }
        sections.append(("OPTM", optimizer.bytes))
        var state = BinaryWriter()
        state.write(UInt64(trainer.epoch))
        state.write(UInt64(trainer.step))
        for w in trainer.generator.stateWords { state.write(w) }
        state.write(trainer.bestRecall.bitPattern)
        state.write(UInt64(trainer.bestEpoch))
        state.write(UInt64(trainer.badEpochs))
        state.write(trainer.learningRateScale)
        state.write(UInt32(trainer.history.count))
        for h in trainer.history {
            state.write(UInt64(h.epoch))
            for v in [h.loss, h.validRecall20 ?? .nan, h.examplesPerSecond, h.seconds] { state.write(v.bitPattern) }
        }
        sections.append(("TRAN", state.bytes))
        if let best = trainer.bestSnapshot {
            var w = BinaryWriter()
            w.write(UInt32(best.count))
            for values in best { values.withUnsafeBufferPointer { appendFloats(&w, $0) } }
            sections.append(("BEST", w.bytes))
        }
        try write(path: path, sections: sections)
    }

    /// Restores a trainer from a checkpoint: weights, optimiser state, generator, epoch and
    /// early-stopping state. `data` must be the same data it was trained on.
    static func loadCheckpoint(path: String, data: InteractionData) throws -> TwoTowerTrainer {
        let (sections, version, file) = try readSections(path: path)
        return try withExtendedLifetime(file) { try readerErrorsAsCorrupt(path) { try restoreTrainer(sections, version: version, data: data) } }
    }

    private static func restoreTrainer(_ sections: [String: UnsafeRawBufferPointer], version: UInt32, data: InteractionData) throws -> TwoTowerTrainer {
        let loaded = try buildModel(sections, version: version)
        let trainer = try TwoTowerTrainer(model: loaded.model, data: data)
        let buffers = loaded.model.parameterBuffers
        var optimizer = BinaryReader(try section(sections, "OPTM"))
        guard Int(try optimizer.readUInt32()) == buffers.count else { throw TrainerError.corruptModel("optimizer state buffer count") }
        for b in buffers {
            try readFloats(&optimizer, into: b.firstMoment, count: b.count)
            try readFloats(&optimizer, into: b.secondMoment, count: b.count)
        }
        var state = BinaryReader(try section(sections, "TRAN"))
        trainer.epoch = Int(try state.readUInt64())
        trainer.step = Int(try state.readUInt64())
        guard let generator = SeededGenerator(stateWords: try (0..<4).map { _ in try state.readUInt64() }) else {
            throw TrainerError.corruptModel("generator state")
        }
        trainer.generator = generator
        trainer.bestRecall = Double(bitPattern: try state.readUInt64())
        trainer.bestEpoch = Int(try state.readUInt64())
        trainer.badEpochs = Int(try state.readUInt64())
        trainer.learningRateScale = try state.readFloat()
        guard trainer.learningRateScale.isFinite, trainer.learningRateScale > 0 else { throw TrainerError.corruptModel("learning rate scale") }
        let historyCount = Int(try state.readUInt32())
        guard historyCount <= 1_000_000 else { throw TrainerError.corruptModel("history length") }
        trainer.history = try (0..<historyCount).map { _ in
            let epoch = Int(try state.readUInt64())
            let v = try (0..<4).map { _ in Double(bitPattern: try state.readUInt64()) }
            return EpochRecord(epoch: epoch, loss: v[0], validRecall20: v[1].isNaN ? nil : v[1], examplesPerSecond: v[2], seconds: v[3])
        }
        if let best = sections["BEST"] {
            var r = BinaryReader(best)
            guard Int(try r.readUInt32()) == buffers.count else { throw TrainerError.corruptModel("best weights buffer count") }
            trainer.bestSnapshot = try buffers.map { b in
                var values = [Float](repeating: 0, count: b.count)
                try values.withUnsafeMutableBufferPointer { try readFloats(&r, into: $0.baseAddress!, count: b.count) }
                return values
            }
        }
        return trainer
    }
}

extension ModelFile.Loaded {
    /// The data the model was trained on, parsed from `dataDescription` (nil when not stored).
    public func source() throws -> InteractionSource? {
        guard let text = dataDescription else { return nil }
        do { return try InteractionSource(serialized: text) } catch let e as InteractionError {
            throw TrainerError.corruptModel("data description: \(e)")
        }
    }
}
