import ArgumentParser
import Foundation
import ShortlistCore
import ShortlistProtocol
import ShortlistData
import ShortlistIndex
import ShortlistModel
import ShortlistTrainer

struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train a two-tower model on interactions and export user and item embeddings.",
        discussion: """
        Writes into --output: model.slm (both towers; the server embeds users with it), \
        item_embeddings.npy/.fvecs + item_ids.txt, user_embeddings.npy/.fvecs + user_ids.txt, \
        and checkpoint.slm after every epoch (--resume continues from it).

        Examples:
          shortlist train --data ../shared/data/interactions/gowalla \\
              --format lightgcn --output index-data/gowalla
          shortlist train --data index-data/ml-latest-small --format movielens \\
              --output index-data/movielens --build-index Flat
          shortlist train --data ratings.csv --format csv --user-column userId \\
              --item-column movieId --rating-column rating --output m
        """
    )

    @OptionGroup var dataOptions: DataOptions

    /// What `--model` trains.
    enum ModelKind: String, ExpressibleByArgument, CaseIterable {
        case twotower, als
    }

    @Option(help: "twotower (default: the towers, served by `recommend`) or als (implicit-feedback matrix factorisation, iALS by conjugate gradient: user and item factors scored by inner product; --dim, --epochs, --regularization, --alpha, --cg-steps).")
    var model: ModelKind = .twotower

    @Option(help: "als: λ, the L2 penalty on every factor (default 10).")
    var regularization: Float?

    @Option(help: "als: α, the confidence of an observed pair (default 40; unobserved pairs weigh 1).")
    var alpha: Float?

    @Option(name: .customLong("cg-steps"), help: "als: conjugate-gradient steps per row and sweep (default 3).")
    var cgSteps: Int?

    @Option(name: .customLong("warm-start"), help: "Start the towers' id embeddings from the factors in this folder (user_embeddings.npy + user_ids.txt, item_embeddings.npy + item_ids.txt, e.g. a `train --model als` output); --dim is their width.")
    var warmStart: String?

    @Option(name: .customLong("tune-budget"), help: "Search the settings that matter on the validation split within this wall time (e.g. 10m, 90s, 1h): successive halving from the settings given (candidate 0); the chosen ones are trained to the end, written with the model, and every trial to tuning.csv.")
    var tuneBudget: String?

    @Option(name: .customLong("tune-trials"), help: "Tune with exactly this many candidates instead of sizing the search from --tune-budget (the same result on any machine).")
    var tuneTrials: Int?

    @Option(help: "Model folder to write.")
    var output: String

    @Option(name: .customLong("dim"), help: "Embedding and output width (default 128; als: the factors, default 128).")
    var dimension: Int?

    @Option(help: "Hidden layer widths of each tower's MLP, comma separated (e.g. 128); none by default.")
    var hidden: String = ""

    @Option(help: "Maximum epochs; early stopping usually ends training sooner (default 60; als: sweeps, default 15).")
    var epochs: Int?

    @Option(help: "Training pairs per step (and in-batch negatives).")
    var batch: Int = 2048

    @Option(help: "Softmax temperature τ (default 0.2).")
    var temperature: Float?

    @Flag(name: .customLong("learn-temperature"), help: "Learn τ, starting at --temperature.")
    var learnTemperature = false

    @Option(name: .customLong("lr"), help: "Learning rate (default 0.005).")
    var learningRate: Float?

    @Option(help: "Embedding optimiser: adam (lazy, sparse rows) or adagrad (row-wise).")
    var optimizer: EmbeddingOptimizer = .adam

    @Option(help: "Extra uniformly sampled negatives per step (mixed negative sampling).")
    var negatives: Int?

    @Flag(name: .customLong("no-logq"), help: "Disable the log-Q correction.")
    var noLogQ = false

    @Flag(name: .customLong("user-history"), inversion: .prefixedNo, help: "Feed each known user's training items to the user tower (mean of an item-history embedding, fixed per user; see --history for request-time history). (default: on, off with --history)")
    var userHistory: Bool?

    @Option(help: "Request-time history: the user tower pools the user's latest N items before each interaction, as it will pool a request's history; serves users it never saw (0: off).")
    var history: Int = 0

    @Option(name: .customLong("history-decay"), help: "Recency weight of the history: the k-th latest item weighs decay^k (1: plain mean).")
    var historyDecay: Float = 0.9

    @Flag(name: .customLong("no-user-id"), help: "No user id embedding: the user tower reads features, history and context only.")
    var noUserId = false

    @Option(name: .customLong("user-id-dropout"), help: "Probability of hiding the user id in a training example (teaches the tower to embed users without one).")
    var userIdDropout: Float = 0

    @Option(name: .customLong("item-id-dropout"), help: "Probability of hiding the item id in a training example (teaches the item tower to embed new items from features).")
    var itemIdDropout: Float = 0

    @Option(name: .customLong("weight-decay"), help: "Decoupled weight decay λ (AdamW): each update shrinks what it touches by learning rate × λ.")
    var weightDecay: Float?

    @Flag(name: .customLong("item-bias"), inversion: .prefixedNo, help: "Learn a per-item logit bias (exported as one more column; index with metric ip). (default: on)")
    var itemBias: Bool?

    @Option(help: "Stop after this many epochs without better validation Recall@20 (0: never).")
    var patience: Int = 3

    @Option(name: .customLong("plateau-decay"), help: "Multiply the learning rate by this after each epoch without a better validation Recall@20 (1: never).")
    var plateauDecay: Float = 0.5

    @Option(help: "Seed of initialisation, shuffling and sampling.")
    var seed: UInt64 = SeededGenerator.defaultSeed

    @Option(help: "Threads (default every core; 1 is bit-for-bit reproducible).")
    var threads: Int?

    @Flag(help: "Continue from --output/checkpoint.slm.")
    var resume = false

    @Option(name: .customLong("build-index"), help: "Also build an index of the item embeddings with this spec, e.g. HNSW16 (metric cosine, or ip with --item-bias).")
    var buildIndex: String?

    @Option(name: .customLong("index-output"), help: "Where --build-index writes (default <output>/items.idx).")
    var indexOutput: String?

    func run() throws {
        Runtime.prepare()
        if model == .als { return try runALS() }
        guard regularization == nil, alpha == nil, cgSteps == nil else {
            throw ValidationError("--regularization, --alpha and --cg-steps are settings of --model als")
        }
        let watch = Stopwatch()
        var config = TwoTowerConfiguration.recommended
        if let dimension { config.dimension = dimension }
        config.hiddenWidths = try hidden.split(separator: ",").map {
            guard let w = Int($0.trimmingCharacters(in: .whitespaces)) else { throw ValidationError("--hidden takes widths like 128 or 256,128") }
            return w
        }
        if let epochs { config.epochs = epochs }
        config.batchSize = batch
        if let temperature { config.temperature = temperature }
        config.learnTemperature = learnTemperature
        if let learningRate { config.learningRate = learningRate }
        config.embeddingOptimizer = optimizer
        if let negatives { config.uniformNegatives = negatives }
        config.logQCorrection = !noLogQ
        config.patience = patience
        config.plateauDecay = plateauDecay
        // Request-time history (--history) replaces the stored one unless both are asked for
        // (which the model refuses).
        config.userHistory = userHistory ?? (history == 0)
        config.historyLength = history
        config.historyDecay = historyDecay
        config.userIdEmbedding = !noUserId
        config.userIdDropout = userIdDropout
        config.itemIdDropout = itemIdDropout
        if let itemBias { config.itemBias = itemBias }
        if let weightDecay { config.weightDecay = weightDecay }
        config.seed = seed
        config.threads = Runtime.threads(threads)
        try config.validate()
        let spec = try buildIndex.map { try IndexSpec(parsing: $0) }
        let warm = try warmStart.map { try FactorFiles(folder: $0) }
        if let warm, let warmStart {
            guard !resume else { throw ValidationError("--warm-start starts a training; --resume continues one") }
            guard dimension == nil || dimension == warm.width else {
                throw ValidationError("--warm-start: the factors in \(warmStart) are \(warm.width) wide, not --dim \(dimension!)")
            }
            config.dimension = warm.width
        }
        let prepare: (TwoTowerModel) throws -> Void = { model in
            guard let warm, let warmStart else { return }
            let set = try model.warmStart(users: warm.users, userIds: warm.userIds, items: warm.items, itemIds: warm.itemIds)
            print("warm start from \(warmStart): \(set.users) of \(model.userIds.count) users, \(set.items) of \(model.itemIds.count) items")
        }
        // The winner's epochs past the last rung are budgeted at up to 9: early stopping ended every
        // run of the default configuration on the six catalogues of bench/README.md by epoch 30,
        // most near 15-20. Reserving all of --epochs (60) left no room to search at all.
        let tuner = try tuneRunner(firstUnits: min(2, config.epochs), lastUnits: min(18, config.epochs), unit: "epochs",
                                   extraUnits: min(9, max(0, config.epochs - 18)))

        let source = try dataOptions.source()
        let data = try InteractionData.read(source)
        print("data: \(data.summary) (read in \(String(format: "%.1f", watch.seconds)) s)")
        for note in data.notes { print("note: \(note)") }
        try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true)
        let checkpoint = (output as NSString).appendingPathComponent("checkpoint.slm")
        let trainer: TwoTowerTrainer
        if resume {
            guard tuner == nil else { throw ValidationError("--resume continues one training; it does not combine with --tune-budget") }
            guard FileManager.default.fileExists(atPath: checkpoint) else { throw ValidationError("--resume: \(checkpoint) does not exist") }
            trainer = try TwoTowerTrainer.resume(from: checkpoint, data: data)
            print("resumed from \(checkpoint) after epoch \(trainer.epoch)")
        } else if let runner = tuner {
            let space = towerSpace(warmWidth: warm?.width)
            let result = try runner.run(make: { try TwoTowerTrial(configuration: space.candidate($0, base: config), data: data, prepare: prepare) }) {
                space.candidate($0, base: config).tuningSummary
            }
            trainer = result.trial.trainer
            try AtomicFileWriter.write(Array(result.summary.csv { space.candidate($0, base: config).tuningSummary }.utf8),
                                       to: (output as NSString).appendingPathComponent("tuning.csv"))
            print("training candidate \(result.summary.winner) on from epoch \(trainer.epoch) (best so far: epoch \(trainer.bestEpoch)); every trial is in \(output)/tuning.csv")
        } else {
            let model = try TwoTowerModel(configuration: config, data: data)
            try prepare(model)
            trainer = try TwoTowerTrainer(model: model, data: data)
        }
        let model = trainer.model
        print("model: dimension \(model.dimension), hidden [\(model.configuration.hiddenWidths.map(String.init).joined(separator: ","))], \(model.parameterCount) parameters, batch \(model.configuration.batchSize), τ \(model.temperature), \(model.configuration.threads) thread(s)")
        let bar = Terminal.progress("epoch")
        try trainer.run(progress: bar.map { bar in { done, total, _ in bar(done, total) } }) { record in
            let valid = record.validRecall20.map { String(format: "valid recall@20 %.4f", $0) } ?? "no valid split"
            print(String(format: "epoch %3d  loss %.4f  %@  %.0f examples/s  %.1f s", record.epoch, record.loss, valid,
                         record.examplesPerSecond, record.seconds))
            fflush(stdout)
            try trainer.saveCheckpoint(to: checkpoint, source: source)
        }
        print("best epoch \(trainer.bestEpoch) of \(trainer.epoch); τ \(model.temperature)")
        let written = try TrainedModelFolder.write(model, data: data, source: source, to: output)
        let items = written.items, users = written.users
        if written.itemPayloads { print("wrote \(output)/item_payloads.jsonl (titles and categories, the server's payloads)") }
        try ColdStartReport.print(model: model, data: data, threads: config.threads)
        print("wrote \(output)/model.slm, item_embeddings.npy (\(items.count) × \(items.dimension)), user_embeddings.npy (\(users.count) × \(users.dimension)) and their ids")
        if let spec {
            let path = indexOutput ?? (output as NSString).appendingPathComponent("items.idx")
            let index = try spec.build(metric: model.scoreMetric, vectors: items, ids: model.itemIds, threads: config.threads, seed: seed)
            try index.save(to: path)
            print("built \(spec) index over \(index.count) items (\(model.scoreMetric)) → \(path)")
        }
        print(String(format: "done in %.1f s; evaluate with: shortlist evaluate --model %@ --split test", watch.seconds, output))
    }

    /// `--tune-budget` / `--tune-trials` as a runner (nil without either).
    private func tuneRunner(firstUnits: Int, lastUnits: Int, unit: String, extraUnits: Int = 0) throws -> TuneRunner? {
        guard tuneBudget != nil || tuneTrials != nil else { return nil }
        guard tuneBudget == nil || tuneTrials == nil else {
            throw ValidationError("give --tune-budget (the search sized to a wall time) or --tune-trials (a fixed number of candidates), not both")
        }
        var budget: Double?
        if let tuneBudget {
            guard let seconds = SuccessiveHalving.parseDuration(tuneBudget) else {
                throw ValidationError("--tune-budget takes a duration like 10m, 90s, 1h30m or a number of seconds, not '\(tuneBudget)'")
            }
            budget = seconds
        }
        if let tuneTrials, !(1...10_000).contains(tuneTrials) { throw ValidationError("--tune-trials must be in 1...10000") }
        return TuneRunner(budgetSeconds: budget, trials: tuneTrials, firstUnits: firstUnits, lastUnits: lastUnits, unit: unit, extraUnits: extraUnits)
    }

    /// The two-tower search space with the settings given on the command line held fixed.
    /// `warmWidth`: the width of --warm-start's factors, which fixes the dimension.
    private func towerSpace(warmWidth: Int?) -> TwoTowerSearchSpace {
        var space = TwoTowerSearchSpace()
        if let dimension = dimension ?? warmWidth { space.dimensions = [dimension] }
        if let temperature { space.temperature = temperature...temperature }
        if let learningRate { space.learningRate = learningRate...learningRate }
        if let weightDecay { space.weightDecay = [weightDecay] }
        if let userHistory { space.userHistory = [userHistory] }
        if history > 0 { space.userHistory = [false] }   // request-time history excludes it
        if let itemBias { space.itemBias = [itemBias] }
        if let negatives { space.negatives = [negatives] }
        return space
    }

    /// `--model als`: iALS on the training split, metrics on valid and test, the factors written.
    private func runALS() throws {
        guard !resume, warmStart == nil, hidden.isEmpty, history == 0, userHistory == nil, itemBias == nil, temperature == nil, learningRate == nil, negatives == nil, weightDecay == nil, dataOptions.schema == nil else {
            throw ValidationError("--model als takes the data options, --dim, --epochs, --regularization, --alpha, --cg-steps, --seed, --threads and --build-index; --resume, --warm-start, --hidden, --history, --user-history, --item-bias, --temperature, --lr, --negatives, --weight-decay and --schema are two-tower settings")
        }
        let spec = try buildIndex.map { try IndexSpec(parsing: $0) }   // refused before training, not after
        let watch = Stopwatch()
        var c = ImplicitALSConfiguration()
        c.factors = dimension ?? 128
        c.iterations = epochs ?? 15
        if let regularization { c.regularization = regularization }
        if let alpha { c.alpha = alpha }
        if let cgSteps { c.cgSteps = cgSteps }
        c.seed = seed
        c.threads = Runtime.threads(threads)
        let tuner = try tuneRunner(firstUnits: min(2, c.iterations), lastUnits: c.iterations, unit: "sweeps")
        let source = try dataOptions.source()
        let data = try InteractionData.read(source)
        print("data: \(data.summary) (read in \(String(format: "%.1f", watch.seconds)) s)")
        for note in data.notes { print("note: \(note)") }
        let training = Stopwatch()
        let als: ImplicitALS
        var tuning: TuningSummary?
        let space = ALSSearchSpace.fixing(factors: dimension, regularization: regularization, alpha: alpha)
        if let runner = tuner {
            print("model: als, tuning factors, λ and α from \(c.factors) factors, λ \(c.regularization), α \(c.alpha); \(c.cgSteps) CG steps, \(c.threads) thread(s)")
            let make = ALSTrial.factory(data: data, base: c, space: space)
            let result = try runner.run(make: make) { space.candidate($0, base: c, seed: c.seed).summary }
            als = result.trial.als
            tuning = result.summary
        } else {
            als = try ImplicitALS(train: data.train, itemCount: data.itemCount, configuration: c)
            print("model: als, \(c.factors) factors, λ \(c.regularization), α \(c.alpha), \(c.cgSteps) CG steps, \(c.threads) thread(s)")
            als.run { sweep in
                print(String(format: "sweep %3d  %.1f s", sweep, training.seconds))
                fflush(stdout)
            }
        }
        try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true)
        let trainSeconds = training.seconds
        for (name, test) in [("valid", false), ("test", true)] where (test ? data.test : data.valid).count > 0 {
            let m = ALSModelFolder.evaluate(users: als.userFactors, items: als.itemFactors, data: data, test: test, threads: c.threads)
            print(String(format: "%@: recall@20 %.4f  ndcg@20 %.4f  recall@10 %.4f", name, m.value("recall@20") ?? 0, m.value("ndcg@20") ?? 0, m.value("recall@10") ?? 0))
        }
        try ALSModelFolder.write(als, data: data, source: source, to: output, tuning: tuning) { space.candidate($0, base: c, seed: c.seed).summary }
        print(String(format: "trained in %.1f s; wrote %@/item_embeddings.npy (%d × %d), user_embeddings.npy (%d × %d), their ids, als.json", trainSeconds,
                     output, als.itemFactors.count, als.configuration.factors, als.userFactors.count, als.configuration.factors))
        if let spec {
            let path = indexOutput ?? (output as NSString).appendingPathComponent("items.idx")
            let index = try spec.build(metric: .ip, vectors: als.itemFactors, ids: data.itemIds, threads: c.threads, seed: seed)
            try index.save(to: path)
            print("built \(spec) index over \(index.count) items (ip) → \(path)")
        }
        print(String(format: "done in %.1f s; evaluate with: shortlist evaluate --model %@ --split test", watch.seconds, output))
    }
}
