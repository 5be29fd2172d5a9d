#if canImport(Glibc)
import Glibc
#endif

/// A whole file mapped into memory, read-only, or private and writable (`copyOnWrite`: a page
/// written is copied for this process alone; the file and other processes never see it). The
/// mapping lives as long as this object.
public final class MappedFile: @unchecked Sendable {
    /// The path the file was opened with.
    public let path: String
    /// The file's bytes.
    public let bytes: UnsafeRawBufferPointer

    /// Whether pages may be written (privately).
    public let copyOnWrite: Bool
    /// Whether `bytes` is a heap buffer this object owns (`init(path:adopting:)`), not a mapping.
    private let ownsHeapBytes: Bool

    /// Maps `path`; throws `FileError.notFound` / `.cannotOpen` with the reason.
    public init(path: String, copyOnWrite: Bool = false) throws {
        self.copyOnWrite = copyOnWrite
        ownsHeapBytes = false
        self.path = path
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            let e = errno
            if e == ENOENT { throw FileError.notFound(path: path) }
            throw FileError.cannotOpen(path: path, reason: String(cString: strerror(e)))
        }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else {
            throw FileError.cannotOpen(path: path, reason: String(cString: strerror(errno)))
        }
        guard (st.st_mode & S_IFMT) == S_IFREG else {
            throw FileError.cannotOpen(path: path, reason: "not a regular file")
        }
        let size = Int(st.st_size)
        if size == 0 {
            bytes = UnsafeRawBufferPointer(start: nil, count: 0)
            return
        }
        let p = mmap(nil, size, copyOnWrite ? PROT_READ | PROT_WRITE : PROT_READ, MAP_PRIVATE, fd, 0)
        guard let p, p != MAP_FAILED else {
            throw FileError.cannotOpen(path: path, reason: "mmap: " + String(cString: strerror(errno)))
        }
        _ = madvise(p, size, MADV_SEQUENTIAL)
        bytes = UnsafeRawBufferPointer(start: p, count: size)
    }

    /// Contents made in memory for `path` (a decompressed file): `bytes` was allocated with
    /// `UnsafeMutableRawPointer.allocate` and is freed with this object. Read-only.
    public init(path: String, adopting bytes: UnsafeMutableRawBufferPointer) {
        self.path = path
        self.bytes = UnsafeRawBufferPointer(bytes)
        copyOnWrite = false
        ownsHeapBytes = true
    }

    deinit {
        guard let base = bytes.baseAddress else { return }
        if ownsHeapBytes {
            UnsafeMutableRawPointer(mutating: base).deallocate()
        } else {
            munmap(UnsafeMutableRawPointer(mutating: base), bytes.count)
        }
    }

    /// Stops the sequential read-ahead hint given when mapping (for mappings used in place).
    public func dropSequentialHint() {
        if !ownsHeapBytes, let base = bytes.baseAddress { _ = madvise(UnsafeMutableRawPointer(mutating: base), bytes.count, MADV_NORMAL) }
    }

    /// The file's size in bytes.
    public var count: Int { bytes.count }
}
