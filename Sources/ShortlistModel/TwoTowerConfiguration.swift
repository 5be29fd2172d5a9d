import ShortlistCore

/// Hyperparameters of the two-tower model and of its training. `init()` gives the plain model
/// (each field's "Default" below); `recommended` is what `shortlist train` starts from.
public struct TwoTowerConfiguration: Sendable, Equatable {
    /// Width of the id and feature embeddings and of each tower's output. Default 64.
    public var dimension = 64
    /// Hidden layer widths of each tower's MLP (ReLU between layers); empty means the towers are
    /// embeddings only. Default none.
    public var hiddenWidths: [Int] = []
    /// Softmax temperature τ (logits are cos/τ): lower sharpens the distinction between the
    /// positive and near negatives. Default 0.1. With `learnTemperature` it is the starting value.
    public var temperature: Float = 0.1
    /// Learn τ (clamped to [0.01, 1]) with the dense optimiser. Default false.
    public var learnTemperature = false
    /// Adam's learning rate for embedding tables (lazy Adam) and dense layers. Default 5e-3.
    /// Row-wise Adagrad wants larger (about 0.05).
    public var learningRate: Float = 5e-3
    /// How embedding rows are updated. Default lazy Adam.
    public var embeddingOptimizer: EmbeddingOptimizer = .adam
    /// Training pairs per step; also the number of in-batch negatives per pair (batch − 1).
    /// Default 2048.
    public var batchSize = 2048
    /// Extra items drawn uniformly per step and shared by every row as negatives (mixed negative
    /// sampling, Yang et al. 2020); helps the long tail that in-batch sampling rarely shows.
    /// Default 0.
    public var uniformNegatives = 0
    /// Subtract the log of each item's sampling probability from its logits (Yi et al. 2019).
    /// Default true.
    public var logQCorrection = true
    /// Give the user tower the user's training items as a feature: the mean of a second item
    /// embedding table over them (as YouTube's candidate generator pools watch history). Users
    /// then share what they learn through their items. Default false.
    public var userHistory = false
    /// Request-time history: the user tower pools the user's latest `historyLength` items before
    /// each training interaction (never the interaction's own item), as it will pool the history
    /// a request sends. Lets the model serve users it never saw. 0: off. Default 0.
    public var historyLength = 0
    /// Recency weighting of the history: the k-th latest item weighs decayᵏ (normalised to sum
    /// 1); 1 is a plain mean, smaller favours recent items. Default 0.9: better than a plain
    /// mean for known and unseen users on both ml-100k and ml-latest-small (0.8 helped one and
    /// hurt the other; bench/README.md, "Cold start").
    public var historyDecay: Float = 0.9
    /// Give the user tower a learned embedding per user id. Off, the user tower is a function of
    /// features, history and context alone, and treats every user alike. Default true.
    public var userIdEmbedding = true
    /// Probability of hiding the user id from the user tower in a training example, so the
    /// tower also learns to embed users without one (cold start). Default 0.
    public var userIdDropout: Float = 0
    /// Probability of hiding the item id from the item tower in a training example, so a new
    /// item embedded from its features alone lands near the items it resembles. Default 0.
    public var itemIdDropout: Float = 0
    /// Decoupled weight decay λ (as AdamW): each update shrinks the values it touches by lr·λ
    /// before its step: embedding rows when a batch touches them, dense layers and the item bias
    /// every step. On ml-1m, 0.1 raised validation Recall@20 (bench/README.md). Default 0.
    public var weightDecay: Float = 0
    /// Add a learned per-item bias b to the logits (cos/τ + b): popularity no longer has to be
    /// carried by the direction of unit vectors. Exported embeddings then get one more column
    /// (users 1, items τ·b) and are ranked by inner product (index metric `ip`). Default false.
    public var itemBias = false
    /// Maximum passes over the training pairs. Default 25.
    public var epochs = 25
    /// Stop after this many epochs without a better validation Recall@20 (0: never). Default 3.
    public var patience = 3
    /// Multiply the learning rate by this after every epoch whose validation Recall@20 is not a
    /// new best (1: never). Smaller steps near the optimum often find a slightly better one
    /// before patience runs out. Default 0.5.
    public var plateauDecay: Float = 0.5
    /// Seed of initialisation, shuffling and negative sampling. Default `SeededGenerator.defaultSeed`.
    public var seed: UInt64 = SeededGenerator.defaultSeed
    /// Threads for the row-parallel parts and BLAS. Default every core. With 1, a run is
    /// bit-for-bit reproducible.
    public var threads = Parallel.availableCores

    public init() {}

    /// What `shortlist train` starts from when no flag says otherwise: 128 wide, τ 0.2, weight
    /// decay 0.1, the user's training items pooled into the user tower, a learned item bias, up to
    /// 60 epochs (early stopping usually ends it sooner). Chosen on six catalogues of different
    /// shapes — ml-100k, ml-latest-small, ml-1m, a thinned ml-1m, Gowalla and a quarter of
    /// Gowalla's users — where it was the best or within 3% of the best of the configurations
    /// tried (docs/trainer.md, bench/README.md "Defaults"). The plain defaults (64 wide, τ 0.1, no
    /// history or bias) were 8.5–39% below implicit's iALS on the five where they were run.
    public static var recommended: TwoTowerConfiguration {
        var c = TwoTowerConfiguration()
        c.dimension = 128
        c.temperature = 0.2
        c.weightDecay = 0.1
        c.userHistory = true
        c.itemBias = true
        c.epochs = 60
        return c
    }

    /// Whether either tower must also embed without an id (request-time history, dropped or
    /// absent ids): both towers then get a learned bias row, so an input with nothing known
    /// still has a direction (the population's).
    package var embedsWithoutIds: Bool { historyLength > 0 || !userIdEmbedding || userIdDropout > 0 || itemIdDropout > 0 }

    /// Checks ranges; returns the first problem.
    public func validate() throws {
        func check(_ ok: Bool, _ reason: String) throws { if !ok { throw TrainerError.badConfiguration(reason) } }
        try check((1...4096).contains(dimension), "dimension must be in 1...4096")
        try check(hiddenWidths.allSatisfy { (1...16384).contains($0) } && hiddenWidths.count <= 8, "hidden widths must be in 1...16384, at most 8 layers")
        try check(temperature.isFinite && temperature >= 0.01 && temperature <= 1, "temperature must be in [0.01, 1]")
        try check(learningRate.isFinite && learningRate > 0 && learningRate <= 10, "learning rate must be in (0, 10]")
        try check((2...65536).contains(batchSize), "batch size must be in 2...65536")
        try check((0...65536).contains(uniformNegatives), "uniform negatives must be in 0...65536")
        try check((1...100_000).contains(epochs), "epochs must be in 1...100000")
        try check(patience >= 0, "patience must be ≥ 0")
        try check(weightDecay.isFinite && weightDecay >= 0 && weightDecay * learningRate < 1, "weight decay must be ≥ 0, with learning rate × weight decay < 1")
        try check(plateauDecay.isFinite && plateauDecay > 0 && plateauDecay <= 1, "plateau decay must be in (0, 1]")
        try check((1...1024).contains(threads), "threads must be in 1...1024")
        try check((0...10_000).contains(historyLength), "history length must be in 0...10000")
        try check(historyDecay.isFinite && historyDecay > 0 && historyDecay <= 1, "history decay must be in (0, 1]")
        try check(userIdDropout.isFinite && userIdDropout >= 0 && userIdDropout < 1, "user id dropout must be in [0, 1)")
        try check(itemIdDropout.isFinite && itemIdDropout >= 0 && itemIdDropout < 1, "item id dropout must be in [0, 1)")
    }

    /// `key=value` lines, the form stored in model files.
    var serialized: String {
        ["dimension=\(dimension)", "hidden=\(hiddenWidths.map(String.init).joined(separator: ","))",
         "temperature=\(temperature)", "learn_temperature=\(learnTemperature)", "learning_rate=\(learningRate)",
         "embedding_optimizer=\(embeddingOptimizer.rawValue)", "batch=\(batchSize)",
         "uniform_negatives=\(uniformNegatives)", "logq=\(logQCorrection)", "user_history=\(userHistory)", "item_bias=\(itemBias)", "weight_decay=\(weightDecay)", "epochs=\(epochs)",
         "patience=\(patience)", "history_length=\(historyLength)", "history_decay=\(historyDecay)",
         "user_id_embedding=\(userIdEmbedding)", "user_id_dropout=\(userIdDropout)", "item_id_dropout=\(itemIdDropout)", "plateau_decay=\(plateauDecay)", "seed=\(seed)", "threads=\(threads)"].joined(separator: "\n") + "\n"
    }

    init(serialized text: String) throws {
        var values: [String: String] = [:]
        for line in text.split(separator: "\n") {
            guard let eq = line.firstIndex(of: "=") else { throw TrainerError.corruptModel("configuration line '\(line.prefix(40))'") }
            values[String(line[..<eq])] = String(line[line.index(after: eq)...])
        }
        func parse<T: LosslessStringConvertible>(_ key: String) throws -> T {
            guard let raw = values[key], let v = T(raw) else { throw TrainerError.corruptModel("configuration key \(key)") }
            return v
        }
        self.init()
        dimension = try parse("dimension")
        let hidden = values["hidden"] ?? ""
        hiddenWidths = try hidden.split(separator: ",").map {
            guard let w = Int($0) else { throw TrainerError.corruptModel("configuration key hidden") }
            return w
        }
        temperature = try parse("temperature")
        learnTemperature = try parse("learn_temperature")
        learningRate = try parse("learning_rate")
        let optimizerName: String = try parse("embedding_optimizer")
        guard let optimizer = EmbeddingOptimizer(rawValue: optimizerName) else { throw TrainerError.corruptModel("embedding optimizer \(optimizerName)") }
        embeddingOptimizer = optimizer
        batchSize = try parse("batch")
        uniformNegatives = try parse("uniform_negatives")
        logQCorrection = try parse("logq")
        // Switches that default to off may be absent.
        userHistory = values["user_history"] == nil ? false : try parse("user_history")
        itemBias = values["item_bias"] == nil ? false : try parse("item_bias")
        weightDecay = values["weight_decay"] == nil ? 0 : try parse("weight_decay")
        historyLength = values["history_length"] == nil ? 0 : try parse("history_length")
        historyDecay = values["history_decay"] == nil ? 0.9 : try parse("history_decay")
        userIdEmbedding = values["user_id_embedding"] == nil ? true : try parse("user_id_embedding")
        userIdDropout = values["user_id_dropout"] == nil ? 0 : try parse("user_id_dropout")
        itemIdDropout = values["item_id_dropout"] == nil ? 0 : try parse("item_id_dropout")
        epochs = try parse("epochs")
        patience = try parse("patience")
        plateauDecay = values["plateau_decay"] == nil ? 1 : try parse("plateau_decay")
        seed = try parse("seed")
        threads = try parse("threads")
    }
}
