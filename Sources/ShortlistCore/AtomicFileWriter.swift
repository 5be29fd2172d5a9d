#if canImport(Glibc)
import Glibc
#endif

/// Writes a file so that readers see either the old contents or the complete new contents,
/// never a mix: the bytes go to a temporary file beside the target, which is fsynced, renamed
/// over the target, and the directory is fsynced (ARCHITECTURE.md, "Index files").
///
/// Every writer gets its own temporary file, `TARGET.tmp-<pid>-<16 random hex digits>`, created
/// with `O_EXCL | O_NOFOLLOW`: two writers of the same target (two saves at once) never share
/// or truncate each other's file, and a file or symlink planted at a predictable name is never
/// opened. The last `commit` wins; each commit renames a complete, synced file.
public final class AtomicFileWriter {
    /// The final path.
    public let path: String
    private let temporaryPath: String
    private var fd: Int32
    private var buffer: [UInt8] = []
    private var finished = false
    /// Bytes written so far.
    public private(set) var bytesWritten = 0

    private static let bufferLimit = 1 << 20

    /// Creates a new temporary file of its own in the target's directory.
    public init(path: String) throws {
        self.path = path
        var candidate = ""
        var opened: Int32 = -1
        // A name already taken (by chance or on purpose) is never reused: draw another.
        for _ in 0..<16 {
            candidate = path + ".tmp-\(getpid())-" + String(UInt64.random(in: 0...UInt64.max) | 1 << 63, radix: 16)
            opened = open(candidate, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o644)
            if opened >= 0 || errno != EEXIST { break }
        }
        guard opened >= 0 else {
            throw FileError.writeFailed(path: path, reason: String(cString: strerror(errno)))
        }
        temporaryPath = candidate
        fd = opened
        buffer.reserveCapacity(Self.bufferLimit)
    }

    /// The temporary file's path (for tests).
    var temporaryFilePath: String { temporaryPath }

    deinit {
        if !finished {
            close(fd)
            unlink(temporaryPath)
        }
    }

    /// Appends bytes (buffered).
    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        bytesWritten += bytes.count
        if bytes.count >= Self.bufferLimit {
            try flushBuffer()
            try writeAll(bytes)
        } else {
            buffer.append(contentsOf: bytes)
            if buffer.count >= Self.bufferLimit { try flushBuffer() }
        }
    }

    /// Appends a byte array.
    public func write(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try write($0) }
    }

    /// Appends `count` zero bytes.
    public func writeZeros(_ count: Int) throws {
        guard count > 0 else { return }
        try write([UInt8](repeating: 0, count: count))
    }

    /// Writes `bytes` as the whole new contents of `path`, atomically (see the type).
    public static func write(_ bytes: [UInt8], to path: String) throws {
        let writer = try AtomicFileWriter(path: path)
        try writer.write(bytes)
        try writer.commit()
    }

    /// Flushes, fsyncs, renames over the target and fsyncs the directory.
    public func commit() throws {
        try flushBuffer()
        guard fsync(fd) == 0 else { throw fail("fsync") }
        guard close(fd) == 0 else { throw fail("close") }
        finished = true
        guard rename(temporaryPath, path) == 0 else {
            let error = fail("rename")
            unlink(temporaryPath)
            throw error
        }
        try Self.syncDirectory(of: path)
    }

    private func flushBuffer() throws {
        guard !buffer.isEmpty else { return }
        try buffer.withUnsafeBytes { try writeAll($0) }
        buffer.removeAll(keepingCapacity: true)
    }

    private func writeAll(_ bytes: UnsafeRawBufferPointer) throws {
        var offset = 0
        while offset < bytes.count {
            let n = Glibc.write(fd, bytes.baseAddress! + offset, bytes.count - offset)
            if n < 0 {
                if errno == EINTR { continue }
                throw fail("write")
            }
            offset += n
        }
    }

    private func fail(_ step: String) -> FileError {
        FileError.writeFailed(path: path, reason: "\(step): " + String(cString: strerror(errno)))
    }

    /// fsyncs the file at `path` (written by other means), so its bytes survive a crash.
    public static func syncFile(atPath path: String) throws {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw FileError.writeFailed(path: path, reason: "open: " + String(cString: strerror(errno))) }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw FileError.writeFailed(path: path, reason: "fsync: " + String(cString: strerror(errno))) }
    }

    /// fsyncs the directory holding `path`, so a rename into it (or an unlink) survives a crash.
    /// Throws `FileError.writeFailed` when the directory cannot be opened or synced.
    public static func syncDirectory(of path: String) throws {
        let dir: String
        if let slash = path.lastIndex(of: "/") {
            dir = slash == path.startIndex ? "/" : String(path[..<slash])
        } else {
            dir = "."
        }
        let dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard dfd >= 0 else { throw FileError.writeFailed(path: dir, reason: "open: " + String(cString: strerror(errno))) }
        defer { close(dfd) }
        guard fsync(dfd) == 0 else { throw FileError.writeFailed(path: dir, reason: "fsync: " + String(cString: strerror(errno))) }
    }
}
