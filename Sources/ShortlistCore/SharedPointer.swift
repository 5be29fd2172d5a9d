/// Hands a buffer to the chunks of `Parallel.forEach`, which write disjoint parts of it.
package struct SharedPointer<T>: @unchecked Sendable {
    package let pointer: UnsafeMutablePointer<T>
    package init(_ pointer: UnsafeMutablePointer<T>) { self.pointer = pointer }
}
