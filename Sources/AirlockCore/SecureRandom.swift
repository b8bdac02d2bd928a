/// Cryptographically secure random values from the operating system
/// (`SystemRandomNumberGenerator`: `getrandom`/`arc4random`).
public enum SecureRandom {
    /// The 62 characters of ``base62(_:)``: digits, then upper-case, then lower-case letters.
    public static let base62Alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

    /// `count` random bytes; a negative `count` gives no bytes.
    public static func bytes(_ count: Int) -> [UInt8] {
        var generator = SystemRandomNumberGenerator()
        var result: [UInt8] = []
        result.reserveCapacity(max(count, 0))
        while result.count < count {
            var word = generator.next()
            for _ in 0..<min(8, count - result.count) {
                result.append(UInt8(truncatingIfNeeded: word))
                word >>= 8
            }
        }
        return result
    }

    /// A string of `count` characters drawn uniformly from ``base62Alphabet``;
    /// a negative `count` gives an empty string.
    ///
    /// Each character comes from one random byte; bytes of 248 or more
    /// (248 = 4 × 62) are discarded, so there is no modulo bias.
    /// Each character carries log2(62) ≈ 5.95 bits of entropy.
    public static func base62(_ count: Int) -> String {
        let alphabet = Array(base62Alphabet.utf8)
        let limit = UInt8(alphabet.count * 4)  // 248
        var characters: [UInt8] = []
        characters.reserveCapacity(max(count, 0))
        while characters.count < count {
            for byte in bytes(count - characters.count + 8) where byte < limit {
                characters.append(alphabet[Int(byte % UInt8(alphabet.count))])
                if characters.count == count { break }
            }
        }
        return String(decoding: characters, as: UTF8.self)
    }
}
