/// How `text` feature columns cut and hash a text: the same on every run and machine, so a
/// model's hashed rows mean the same thing when it serves.
public enum TextTokens {
    /// Alphanumeric tokens of a text (titles), for hashed bags of words.
    public static func tokens(_ text: Substring) -> [Substring] {
        text.split(whereSeparator: { !($0.isLetter || $0.isNumber) })
    }

    /// FNV-1a hash of a token's lower-cased UTF-8 bytes: stable across runs and machines.
    public static func hash(_ token: Substring) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in token.lowercased().utf8 {
            h ^= UInt64(b)
            h &*= 0x100_0000_01b3
        }
        return h
    }
}
