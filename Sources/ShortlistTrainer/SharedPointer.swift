/// Hands a buffer to the chunks of `Parallel.forEach`, which write disjoint parts of it.
struct SharedPointer<T>: @unchecked Sendable {
    let pointer: UnsafeMutablePointer<T>
    init(_ pointer: UnsafeMutablePointer<T>) { self.pointer = pointer }
}
