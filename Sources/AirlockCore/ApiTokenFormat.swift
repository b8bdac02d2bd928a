import Crypto

/// The textual form of Airlock's bearer secrets: `alk_` API tokens and `alkc_` credential tokens.
///
/// A token is `prefix + body + checksum`: the body is 256 random bits written in base62 (43 characters, fixed
/// width); the checksum is the CRC-32 of `prefix + body` in base62 (6 characters, fixed width). The prefix lets
/// secret scanners and logs recognise the token; the checksum lets a typo fail before any database lookup.
/// Airlock stores only ``hash(_:)`` of a token, never the token.
public enum ApiTokenFormat {
    /// Which kind of token a prefix announces.
    public enum Prefix: String, Sendable, CaseIterable {
        /// Airlock's own API tokens (`alk_`), used as `Authorization: Bearer` on `/v1`.
        case airlock = "alk_"
        /// Credential tokens Airlock mints for `token` resources (`alkc_`).
        case credential = "alkc_"
    }

    /// Characters of the random body: 256 bits in base62 need 43 characters (62^43 > 2^256).
    public static let bodyLength = 43
    /// Characters of the checksum: a CRC-32 in base62 needs 6 characters (62^6 > 2^32).
    public static let checksumLength = 6

    /// A token that passed ``parse(_:)``: its prefix, length, alphabet and checksum are right.
    public struct ParsedToken: Sendable, Hashable {
        /// The kind of token.
        public let prefix: Prefix
        /// The whole token, as given.
        public let token: String

        /// SHA-256 of the whole token, the only form Airlock stores.
        public var hash: [UInt8] { ApiTokenFormat.hash(token) }
    }

    /// A new token of kind `prefix`, from 32 bytes of ``SecureRandom``.
    public static func generate(prefix: Prefix) -> String {
        let body = base62(SecureRandom.bytes(32), width: bodyLength)
        return prefix.rawValue + body + checksum(prefix.rawValue + body)
    }

    /// The token if `text` is a well-formed token: a known prefix, the exact length, base62 only and a
    /// matching checksum. `nil` otherwise.
    public static func parse(_ text: String) -> ParsedToken? {
        guard let prefix = Prefix.allCases.first(where: { text.hasPrefix($0.rawValue) }) else { return nil }
        let utf8 = Array(text.utf8)
        let prefixLength = prefix.rawValue.utf8.count
        guard utf8.count == prefixLength + bodyLength + checksumLength,
              utf8[prefixLength...].allSatisfy(isBase62)
        else { return nil }
        let signed = String(decoding: utf8[..<(prefixLength + bodyLength)], as: UTF8.self)
        let given = utf8[(prefixLength + bodyLength)...]
        guard ConstantTime.equals(given, Array(checksum(signed).utf8)) else { return nil }
        return ParsedToken(prefix: prefix, token: text)
    }

    /// SHA-256 of the whole token string (prefix included): what the database holds and is searched by.
    public static func hash(_ token: String) -> [UInt8] {
        Array(SHA256.hash(data: Array(token.utf8)))
    }

    /// Whether `text` starts like an Airlock token of any kind (without checking the rest).
    public static func looksLikeToken(_ text: String) -> Bool {
        Prefix.allCases.contains { text.hasPrefix($0.rawValue) }
    }

    /// The checksum suffix of `signed` (`prefix + body`).
    static func checksum(_ signed: String) -> String {
        let crc = CRC32.checksum(Array(signed.utf8))
        return base62(withUnsafeBytes(of: crc.bigEndian) { Array($0) }, width: checksumLength)
    }

    private static func isBase62(_ byte: UInt8) -> Bool {
        (0x30...0x39).contains(byte) || (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte)
    }

    /// `bytes` (big-endian unsigned integer) in base62, left-padded with `0` to `width` characters.
    static func base62(_ bytes: [UInt8], width: Int) -> String {
        let alphabet = Array(SecureRandom.base62Alphabet.utf8)
        var number = bytes
        var digits: [UInt8] = []
        while number.contains(where: { $0 != 0 }) {
            var remainder = 0
            for index in number.indices {
                let value = remainder << 8 | Int(number[index])
                number[index] = UInt8(value / 62)
                remainder = value % 62
            }
            digits.append(alphabet[remainder])
        }
        while digits.count < width { digits.append(alphabet[0]) }
        return String(decoding: digits.reversed(), as: UTF8.self)
    }
}

/// CRC-32 (IEEE 802.3, reflected, polynomial 0xEDB88320), as zlib computes it.
enum CRC32 {
    private static let table: [UInt32] = (0..<256).map { index in
        var value = UInt32(index)
        for _ in 0..<8 { value = value & 1 == 1 ? (value >> 1) ^ 0xEDB8_8320 : value >> 1 }
        return value
    }

    static func checksum(_ bytes: [UInt8]) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in bytes { crc = table[Int((crc ^ UInt32(byte)) & 0xFF)] ^ (crc >> 8) }
        return crc ^ 0xFFFF_FFFF
    }
}
