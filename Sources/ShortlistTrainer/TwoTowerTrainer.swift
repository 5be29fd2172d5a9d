import ShortlistModel
import Foundation
import ShortlistCore
import ShortlistData

/// What one epoch did.
public struct EpochRecord: Sendable, Equatable {
    /// 1-based epoch number.
    public var epoch: Int
    /// Mean training loss over the epoch's steps.
    public var loss: Double
    /// Validation Recall@20 after the epoch (nil without a validation split).
    public var validRecall20: Double?
    /// Training pairs per second of training time (evaluation excluded).
    public var examplesPerSecond: Double
    /// Seconds spent training (evaluation excluded).
    public var seconds: Double
}

/// Trains a `TwoTowerModel` on the training split of `InteractionData` with in-batch sampled
/// softmax (`SampledSoftmaxLoss`): each epoch is one pass over the shuffled unique (user, item)
/// training pairs in batches of `batchSize` (the last one smaller). After each epoch the model is
/// scored on the validation split (Recall@20, train items masked); training stops after
/// `patience` epochs without improvement and the best epoch's weights are kept.
///
/// With `threads == 1` and a fixed seed, a run, and a run stopped and resumed from a
/// checkpoint, produce bit-identical weights.
public final class TwoTowerTrainer: @unchecked Sendable {
    public let model: TwoTowerModel
    public let data: InteractionData
    var configuration: TwoTowerConfiguration { model.configuration }

    // Training state (all of it is checkpointed).
    var generator: SeededGenerator
    /// Epochs completed.
    public internal(set) var epoch = 0
    /// Optimiser steps taken.
    var step = 0
    var bestRecall = -1.0
    public internal(set) var bestEpoch = 0
    var badEpochs = 0
    /// Factor on the configured learning rate (lowered on plateaus).
    public internal(set) var learningRateScale: Float = 1
    public internal(set) var history: [EpochRecord] = []
    /// Parameter values of the best epoch so far (file order); nil without a validation split
    /// (the last epoch is then kept).
    var bestSnapshot: [[Float]]?

    private let pairUsers: [Int32]
    private let pairItems: [Int32]
    /// Each pair's entry in `data.sequence` (its history is the entries before it).
    private let pairEntries: [Int32]
    /// The towers' inputs of the current step.
    let userBatch: TowerBatch
    let itemBatch: TowerBatch
    /// Each item's share of the training pairs (at least one pair's worth), for log-Q.
    private let itemFrequency: [Float]
    private let loss = SampledSoftmaxLoss()
    /// Per-column bias gradient of the current step (with an item bias).
    private var columnGradient: [Float] = []

    public init(model: TwoTowerModel, data: InteractionData) throws {
        guard model.userIds == data.userIds, model.itemIds == data.itemIds else {
            throw TrainerError.dataMismatch("the model was made for other users or items")
        }
        self.model = model
        self.data = data
        generator = SeededGenerator(seed: model.configuration.seed &+ 1)
        var users: [Int32] = [], entries: [Int32] = []
        let sequence = data.sequence
        users.reserveCapacity(sequence.items.count)
        entries.reserveCapacity(sequence.items.count)
        for u in 0..<data.userCount {
            for e in sequence.entries(of: u) { users.append(Int32(u)); entries.append(Int32(e)) }
        }
        guard sequence.rowCount == data.userCount, sequence.items.count == data.train.count,
              sequence.contextWidth == model.contextFields.count else {
            throw TrainerError.dataMismatch("the training sequence does not match the training split or the model's context fields")
        }
        pairUsers = users
        pairItems = sequence.items
        pairEntries = entries
        userBatch = TowerBatch(fieldCount: model.userFields.count)
        itemBatch = TowerBatch(fieldCount: model.itemFields.count)
        let counts = data.train.itemFrequencies(itemCount: data.itemCount)
        let total = Double(data.train.count)
        itemFrequency = counts.map { Float(Double(max($0, 1)) / total) }
    }

    /// Whether training has ended (epoch limit reached or early stopping triggered).
    public var isFinished: Bool {
        epoch >= configuration.epochs || (configuration.patience > 0 && badEpochs >= configuration.patience)
    }

    /// Runs one epoch of training and its validation. `progress(done, total, mean loss)` is called
    /// after every step with the training pairs done so far.
    @discardableResult
    public func trainEpoch(progress: ((Int, Int, Double) -> Void)? = nil) -> EpochRecord {
        let c = configuration
        BLAS.runtime.setThreads(1)   // parallel work is split by ParallelGemm and Parallel
        var order = Array(0..<Int32(pairUsers.count))
        order.shuffle(using: &generator)
        let start = DispatchTime.now().uptimeNanoseconds
        var lossSum = 0.0, steps = 0
        var batchUsers: [Int32] = [], columnItems: [Int32] = []
        var corrections: [Float] = []
        let d = c.dimension
        let capacity = c.batchSize + c.uniformNegatives
        var userGradient = [Float](repeating: 0, count: c.batchSize * d)
        var itemGradient = [Float](repeating: 0, count: capacity * d)
        var offset = 0
        while offset < order.count {
            let end = min(order.count, offset + c.batchSize)
            assembleBatch(order[offset..<end], users: &batchUsers, columnItems: &columnItems)
            let stepLoss = trainStep(users: batchUsers, columnItems: columnItems, corrections: &corrections,
                                     userGradient: &userGradient, itemGradient: &itemGradient)
            lossSum += Double(stepLoss)
            steps += 1
            offset = end
            progress?(offset, order.count, lossSum / Double(steps))
        }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        epoch += 1
        var record = EpochRecord(epoch: epoch, loss: lossSum / Double(max(steps, 1)), validRecall20: nil,
                                 examplesPerSecond: Double(order.count) / max(seconds, 1e-9), seconds: seconds)
        if data.valid.count > 0, let metrics = try? evaluate(test: false) {
            let recall = metrics.value("recall@20") ?? 0
            record.validRecall20 = recall
            if recall > bestRecall {
                bestRecall = recall
                bestEpoch = epoch
                badEpochs = 0
                bestSnapshot = model.parameterBuffers.map(\.valueArray)
            } else {
                badEpochs += 1
                learningRateScale *= configuration.plateauDecay
            }
        } else {
            bestEpoch = epoch
            bestSnapshot = nil
        }
        history.append(record)
        return record
    }

    /// Throughput measurement (no evaluation): takes `steps` optimiser steps on batches of
    /// consecutive pairs from a fresh shuffle, and returns the seconds they took. The model trains
    /// as it would in an epoch; `epoch` and the early-stopping state do not change.
    public func timeSteps(_ steps: Int) -> Double {
        let c = configuration
        BLAS.runtime.setThreads(1)   // parallel work is split by ParallelGemm and Parallel
        var order = Array(0..<Int32(pairUsers.count))
        order.shuffle(using: &generator)
        let b = min(c.batchSize, order.count)
        var batchUsers: [Int32] = [], columnItems: [Int32] = [], corrections: [Float] = []
        var userGradient = [Float](repeating: 0, count: c.batchSize * c.dimension)
        var itemGradient = [Float](repeating: 0, count: (c.batchSize + c.uniformNegatives) * c.dimension)
        let start = DispatchTime.now().uptimeNanoseconds
        for j in 0..<steps {
            let first = (j * b) % max(1, order.count - b + 1)
            assembleBatch(order[first..<(first + b)], users: &batchUsers, columnItems: &columnItems)
            _ = trainStep(users: batchUsers, columnItems: columnItems, corrections: &corrections,
                          userGradient: &userGradient, itemGradient: &itemGradient)
        }
        return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
    }

    /// The users and positive items of the pairs `pairs`, then `uniformNegatives` items drawn
    /// uniformly from the generator; and the towers' inputs for them: each pair's user with the
    /// history before that interaction and its context, each column's item (ids hidden with
    /// the configured dropout probabilities).
    func assembleBatch(_ pairs: ArraySlice<Int32>, users: inout [Int32], columnItems: inout [Int32]) {
        let c = configuration
        users.removeAll(keepingCapacity: true)
        columnItems.removeAll(keepingCapacity: true)
        userBatch.removeAll()
        itemBatch.removeAll()
        let sequence = data.sequence, width = sequence.contextWidth
        for p in pairs {
            let u = pairUsers[Int(p)], e = Int(pairEntries[Int(p)])
            users.append(u)
            columnItems.append(pairItems[Int(p)])
            let dropId = c.userIdDropout > 0 && generator.nextUnitFloat() < c.userIdDropout
            let start = sequence.offsets[Int(u)]
            model.appendUser(to: userBatch, id: dropId ? -1 : u, storedRow: Int(u),
                             history: sequence.items[max(start, e - c.historyLength)..<e],
                             context: width > 0 ? sequence.context[(e * width)..<((e + 1) * width)] : nil)
        }
        for _ in 0..<c.uniformNegatives {
            columnItems.append(Int32(truncatingIfNeeded: Int(generator.next() % UInt64(data.itemCount))))
        }
        for item in columnItems {
            let dropId = c.itemIdDropout > 0 && generator.nextUnitFloat() < c.itemIdDropout
            model.appendItem(to: itemBatch, id: dropId ? -1 : item, storedRow: Int(item))
        }
    }

    /// Runs `body` on the user tower and on the item tower. With two threads or more the towers
    /// run at once, each splitting its own work over half of them: a tower's `sgemm`s are small
    /// (batch × 64 × 128 with an MLP) and its element-wise passes single-threaded, so two towers
    /// side by side keep both cores busier than one tower on two. A tower's thread count only
    /// changes how the rows of its `sgemm`s are split; one thread runs both towers in turn.
    private func onBothTowers(_ body: @Sendable (Tower) -> Void) {
        let towers = [model.userTower, model.itemTower]
        let threads = configuration.threads
        guard threads >= 2 else {
            towers.forEach(body)
            return
        }
        towers[0].threads = threads - threads / 2
        towers[1].threads = threads / 2
        Parallel.forEach(chunkCount: 2, threads: 2) { body(towers[$0]) }
        for tower in towers { tower.threads = threads }
    }

    /// One optimiser step on a batch; returns its loss.
    func trainStep(users: [Int32], columnItems: [Int32], corrections: inout [Float],
                   userGradient: inout [Float], itemGradient: inout [Float]) -> Float {
        let c = configuration
        let b = users.count, columns = columnItems.count, d = c.dimension
        let userTower = model.userTower
        let batches = (user: userBatch, item: itemBatch)
        onBothTowers { tower in _ = tower.forward(tower === userTower ? batches.user : batches.item) }
        let zu = model.userTower.output, zi = model.itemTower.output
        let bias = model.itemBias
        let useCorrections = c.logQCorrection || bias != nil
        if useCorrections {
            corrections.removeAll(keepingCapacity: true)
            let uniform = Float(c.uniformNegatives) / Float(data.itemCount)
            for item in columnItems {
                var value = c.logQCorrection ? log(Float(b) * itemFrequency[Int(item)] + uniform) : 0
                if let bias { value -= bias.values[Int(item)] }
                corrections.append(value)
            }
        }
        if bias != nil && columnGradient.count < columns { columnGradient = [Float](repeating: 0, count: columns) }
        let scale = exp(model.logScale.values[0])
        let result = columnItems.withUnsafeBufferPointer { itemsBuffer in
            corrections.withUnsafeBufferPointer { corr in
                userGradient.withUnsafeMutableBufferPointer { ug in
                    itemGradient.withUnsafeMutableBufferPointer { ig in
                        columnGradient.withUnsafeMutableBufferPointer { cg in
                            loss.compute(users: zu, rowCount: b, items: zi, columnCount: columns, dimension: d,
                                         columnItems: itemsBuffer, corrections: useCorrections ? corr.baseAddress : nil,
                                         scale: scale, userGradient: ug.baseAddress!, itemGradient: ig.baseAddress!,
                                         columnGradient: bias == nil ? nil : cg.baseAddress, threads: c.threads)
                        }
                    }
                }
            }
        }
        step += 1
        let embeddingHyper = AdamHyperparameters(learningRate: c.learningRate * learningRateScale, weightDecay: c.weightDecay)
        let currentStep = step
        userGradient.withUnsafeMutableBufferPointer { ug in
            itemGradient.withUnsafeMutableBufferPointer { ig in
                let gradients = (user: SharedPointer(ug.baseAddress!), item: SharedPointer(ig.baseAddress!))
                onBothTowers { tower in
                    tower.backward((tower === userTower ? gradients.user : gradients.item).pointer)
                    tower.applyGradients(embeddingOptimizer: c.embeddingOptimizer, embedding: embeddingHyper,
                                         dense: embeddingHyper, step: currentStep)
                }
            }
        }
        if let bias {
            for (col, item) in columnItems.enumerated() { bias.gradient[Int(item)] += columnGradient[col] }
            bias.adamStep(embeddingHyper, step: step)
            bias.zeroGradient()
        }
        if c.learnTemperature {
            model.logScale.gradient[0] = result.logScaleGradient
            model.logScale.adamStep(embeddingHyper, step: step)
            model.logScale.values[0] = min(max(model.logScale.values[0], 0), log(100))
        }
        return result.loss
    }

    /// Full-ranking metrics of the current weights on the validation split (`test: false`;
    /// users embedded with their training history and the validation moment's context, training
    /// items masked) or the test split (history and mask also hold the validation items).
    public func evaluate(test: Bool) throws -> RankingMetrics {
        try ColdStartEvaluator.evaluateWarm(model: model, data: data, test: test, threads: configuration.threads)
    }

    /// Puts the best epoch's weights back into the model (after training stops).
    public func restoreBest() {
        guard let snapshot = bestSnapshot else { return }
        for (buffer, values) in zip(model.parameterBuffers, snapshot) {
            values.withUnsafeBufferPointer { buffer.values.update(from: $0.baseAddress!, count: buffer.count) }
        }
        bestSnapshot = nil
    }

    /// Trains until finished, calling `onEpoch` after each epoch (e.g. to log and checkpoint),
    /// then restores the best weights.
    public func run(progress: ((Int, Int, Double) -> Void)? = nil, onEpoch: ((EpochRecord) throws -> Void)? = nil) rethrows {
        while !isFinished {
            let record = trainEpoch(progress: progress)
            try onEpoch?(record)
        }
        restoreBest()
    }
}
