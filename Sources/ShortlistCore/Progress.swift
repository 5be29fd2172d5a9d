/// Receives progress of long work: `completed` out of `total` units (rows, queries, …).
/// Called from any thread, often; implementations should be cheap and rate-limit their output.
public typealias ProgressHandler = @Sendable (_ completed: Int, _ total: Int) -> Void
