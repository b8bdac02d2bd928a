import Crypto

/// SHA-256 digests as lowercase hex, the form Airlock stores and prints (migration checksums, audit hashes,
/// policy set digests).
public enum Digest {
    /// The SHA-256 of `parts`, fed in order, as 64 lowercase hex characters.
    public static func sha256Hex(_ parts: [UInt8]...) -> String {
        var hasher = SHA256()
        for part in parts { hasher.update(data: part) }
        return hex(hasher.finalize())
    }

    /// `bytes` as lowercase hex.
    public static func hex(_ bytes: some Sequence<UInt8>) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0f)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}
