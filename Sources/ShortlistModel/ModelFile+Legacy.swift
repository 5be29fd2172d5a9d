import ShortlistCore

/// Versions 1 and 2 of the model file had a container of their own, read here:
///
///     header (24 bytes): "SLMODEL1" · u32 version · u32 section count · u32 CRC-32C of the
///                        previous 16 bytes · u32 reserved (0)
///     sections:          4-byte tag · u64 payload length · u32 CRC-32C of the payload · payload
extension ModelFile {
    static func legacySections(_ file: MappedFile) throws -> ([String: UnsafeRawBufferPointer], UInt32) {
        var r = BinaryReader(file.bytes)
        do {
            guard file.count >= 24, Array(try r.readBytes(8)) == magic else {
                throw TrainerError.corruptModel("\(file.path) is not a Shortlist model file")
            }
            let version = try r.readUInt32()
            let count = Int(try r.readUInt32())
            let crc = try r.readUInt32()
            guard crc == Checksum.crc32c(UnsafeRawBufferPointer(rebasing: file.bytes[0..<16])) else {
                throw TrainerError.corruptModel("\(file.path): header checksum mismatch")
            }
            guard version <= 2 else { throw TrainerError.corruptModel("\(file.path): version \(version) in a version-2 header") }
            guard version >= 1 else { throw TrainerError.corruptModel("\(file.path): version \(version)") }
            _ = try r.readUInt32()
            var sections: [String: UnsafeRawBufferPointer] = [:]
            for _ in 0..<count {
                let tag = String(decoding: try r.readBytes(4), as: UTF8.self)
                let length = try r.readUInt64()
                let sum = try r.readUInt32()
                guard length <= UInt64(r.remaining) else { throw TrainerError.corruptModel("\(file.path): section \(tag) is truncated") }
                let payload = try r.readBytes(Int(length))
                guard Checksum.crc32c(payload) == sum else { throw TrainerError.corruptModel("\(file.path): section \(tag) checksum mismatch") }
                guard sections[tag] == nil else { throw TrainerError.corruptModel("\(file.path): section \(tag) appears twice") }
                sections[tag] = payload
            }
            guard r.remaining == 0 else { throw TrainerError.corruptModel("\(file.path): \(r.remaining) bytes after the last section") }
            return (sections, version)
        } catch let error as BinaryReaderError {
            throw TrainerError.corruptModel("\(file.path): truncated (\(error))")
        }
    }
}
