/// Which of an object's buffers point into a file mapping (borrowed) instead of being
/// `AlignedMemory` allocations (owned). A borrowed buffer is never freed; growing one copies it
/// into an owned allocation. Mappings are private and writable (`MappedFile(copyOnWrite:)`), so
/// writing to a borrowed buffer copies only the page written, and the file never changes.
public struct BorrowedBuffers: @unchecked Sendable {
    private var addresses: Set<UnsafeMutableRawPointer> = []
    /// The mappings the borrowed buffers point into, kept alive as long as the owner.
    public private(set) var mappings: [MappedFile] = []

    public init() {}

    /// Marks `p` as pointing into `mapping`.
    public mutating func borrow<T>(_ p: UnsafeMutablePointer<T>, from mapping: MappedFile) {
        addresses.insert(UnsafeMutableRawPointer(p))
        if !mappings.contains(where: { $0 === mapping }) { mappings.append(mapping) }
    }

    /// Whether `p` points into a mapping.
    public func isBorrowed<T>(_ p: UnsafeMutablePointer<T>) -> Bool { addresses.contains(UnsafeMutableRawPointer(p)) }

    /// Frees `p` unless it is borrowed.
    public func free<T>(_ p: UnsafeMutablePointer<T>) {
        if !isBorrowed(p) { AlignedMemory.free(p) }
    }

    /// `AlignedMemory.grow` for owned buffers; a borrowed one is copied into a new allocation
    /// (the mapping is left as it is) and stops being borrowed.
    public mutating func grow<T>(_ old: UnsafeMutablePointer<T>, oldCount: Int, newCount: Int, fill: T) -> UnsafeMutablePointer<T> {
        guard addresses.remove(UnsafeMutableRawPointer(old)) != nil else {
            return AlignedMemory.grow(old, oldCount: oldCount, newCount: newCount, fill: fill)
        }
        let p = AlignedMemory.allocate(T.self, count: newCount)
        p.initialize(from: old, count: oldCount)
        (p + oldCount).initialize(repeating: fill, count: newCount - oldCount)
        return p
    }
}
