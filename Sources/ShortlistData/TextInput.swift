import CZlib
import Foundation
import ShortlistCore

/// Opens the text files interactions, features and ids come in: plain, or gzip-compressed
/// (recognised by its magic bytes, whatever the name), decompressed into memory.
enum TextInput {
    /// `path` when it exists, else `path.gz` when that does, else nil.
    static func existing(_ path: String) -> String? {
        let manager = FileManager.default
        if manager.fileExists(atPath: path) { return path }
        return manager.fileExists(atPath: path + ".gz") ? path + ".gz" : nil
    }

    /// The bytes of `path`: mapped, or decompressed when the file is gzip. Throws
    /// `FileError.notFound`, or `.readFailed` for a corrupted or truncated gzip stream.
    static func open(_ path: String) throws -> MappedFile {
        let file = try MappedFile(path: path)
        guard file.count >= 2, file.bytes[0] == 0x1F, file.bytes[1] == 0x8B else { return file }
        return try gunzip(file)
    }

    /// Decompresses every gzip member of `file` (as `gzip -d` does) into one buffer.
    private static func gunzip(_ file: MappedFile) throws -> MappedFile {
        func failed(_ reason: String) -> FileError { .readFailed(path: file.path, reason: "gzip: " + reason) }
        var stream = z_stream()
        // 15 window bits + 32: a zlib or gzip header, detected.
        guard inflateInit2_(&stream, 15 + 32, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else { throw failed("cannot start zlib") }
        defer { inflateEnd(&stream) }
        let input = file.bytes.baseAddress!.assumingMemoryBound(to: UInt8.self)
        var fed = 0, capacity = max(1 << 16, file.count * 4), size = 0
        var buffer = UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 64)
        do {
            while true {
                if stream.avail_in == 0 && fed < file.count {
                    let chunk = min(file.count - fed, 1 << 30)
                    stream.next_in = UnsafeMutablePointer(mutating: input + fed)
                    stream.avail_in = UInt32(chunk)
                    fed += chunk
                }
                if size == capacity {
                    let grown = UnsafeMutableRawPointer.allocate(byteCount: capacity * 2, alignment: 64)
                    grown.copyMemory(from: buffer, byteCount: size)
                    buffer.deallocate()
                    buffer = grown
                    capacity *= 2
                }
                let room = min(capacity - size, 1 << 30)
                stream.next_out = (buffer + size).assumingMemoryBound(to: UInt8.self)
                stream.avail_out = UInt32(room)
                let status = inflate(&stream, Z_NO_FLUSH)
                size += room - Int(stream.avail_out)
                let unread = file.count - fed + Int(stream.avail_in)
                switch status {
                case Z_STREAM_END:
                    // Another member may follow (concatenated .gz files); zero padding ends the file.
                    if unread == 0 || UnsafeBufferPointer(start: input + file.count - unread, count: unread).allSatisfy({ $0 == 0 }) {
                        return MappedFile(path: file.path, adopting: UnsafeMutableRawBufferPointer(start: buffer, count: size))
                    }
                    guard inflateReset(&stream) == Z_OK else { throw failed("cannot restart zlib") }
                case Z_OK, Z_BUF_ERROR:
                    // No progress with input left and room to write cannot happen; with no input left, the stream was cut short.
                    if unread == 0 && stream.avail_out > 0 { throw failed("the file ends inside the compressed stream (truncated?)") }
                default:
                    throw failed(stream.msg.map { String(cString: $0) } ?? "corrupted data (zlib status \(status))")
                }
            }
        } catch {
            buffer.deallocate()
            throw error
        }
    }
}
