import AirlockCore
import Crypto
import CryptoExtras
import Foundation

/// A SCRAM-SHA-256 password verifier (RFC 5802, RFC 7677) in the form PostgreSQL stores in
/// `pg_authid.rolpassword`: `SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>` (base64 parts).
///
/// Airlock sends PostgreSQL this verifier instead of the password, so the plaintext never reaches the target
/// (its statement log, `pg_stat_statements`, or a replica). The password must be ASCII without control characters
/// (Airlock's are base62), for which SASLprep is the identity.
public struct SCRAMVerifier: Sendable, Hashable {
    /// PostgreSQL's own default. Issued logins use their target's `scramIterations` instead.
    public static let defaultIterations = 4096

    /// The PBKDF2 iteration count.
    public let iterations: Int
    /// The random salt.
    public let salt: [UInt8]
    /// `H(ClientKey)`: lets the server check a client proof.
    public let storedKey: [UInt8]
    /// `HMAC(SaltedPassword, "Server Key")`: lets the server prove itself to the client.
    public let serverKey: [UInt8]

    /// Derives the verifier of `password` with a fresh 16-byte random salt.
    public init(password: String, iterations: Int = defaultIterations) throws(ProviderError) {
        try self.init(password: password, salt: SecureRandom.bytes(16), iterations: iterations)
    }

    /// Derives the verifier of `password` with the given salt (for known-answer tests).
    public init(password: String, salt: [UInt8], iterations: Int) throws(ProviderError) {
        guard !password.isEmpty, password.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7f }) else {
            throw ProviderError(code: "invalid_password", message: "the password must be printable ASCII")
        }
        guard salt.count >= 8, (1...1_000_000).contains(iterations) else {
            throw ProviderError(code: "invalid_scram_parameters", message: "salt or iteration count out of range")
        }
        let salted: SymmetricKey
        do {
            salted = try KDF.Insecure.PBKDF2.deriveKey(
                from: Array(password.utf8), salt: salt, using: .sha256, outputByteCount: 32,
                unsafeUncheckedRounds: iterations)
        } catch {
            throw ProviderError(code: "scram_derivation_failed", message: "PBKDF2 failed")
        }
        let clientKey = Array(HMAC<SHA256>.authenticationCode(for: Array("Client Key".utf8), using: salted))
        self.iterations = iterations
        self.salt = salt
        self.storedKey = Array(SHA256.hash(data: clientKey))
        self.serverKey = Array(HMAC<SHA256>.authenticationCode(for: Array("Server Key".utf8), using: salted))
    }

    /// The verifier in PostgreSQL's text form. It contains only `SCRAM-SHA-256`, digits and base64 characters,
    /// so it can be written inside a single-quoted SQL literal (``sqlLiteral()`` checks that again).
    public var text: String {
        let salt = Data(salt).base64EncodedString()
        let stored = Data(storedKey).base64EncodedString()
        let server = Data(serverKey).base64EncodedString()
        return "SCRAM-SHA-256$\(iterations):\(salt)$\(stored):\(server)"
    }

    /// ``text`` as a single-quoted SQL literal, after checking it holds nothing but the expected characters.
    func sqlLiteral() throws(ProviderError) -> String {
        let text = self.text
        let allowed = Set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=$:-")
        guard text.hasPrefix("SCRAM-SHA-256$"), text.allSatisfy({ allowed.contains($0) }) else {
            throw ProviderError(code: "invalid_verifier", message: "the SCRAM verifier has unexpected characters")
        }
        return "'\(text)'"
    }

    /// `HMAC(ServerKey, AuthMessage)`: the signature a server sends in its final SCRAM message.
    public func serverSignature(authMessage: String) -> [UInt8] {
        Array(HMAC<SHA256>.authenticationCode(for: Array(authMessage.utf8), using: SymmetricKey(data: serverKey)))
    }

    /// Whether `clientProof` proves knowledge of the password for `authMessage`, exactly as a SCRAM server
    /// checks it: `H(ClientProof XOR HMAC(StoredKey, AuthMessage)) == StoredKey`.
    public func verifies(clientProof: [UInt8], authMessage: String) -> Bool {
        let signature = Array(
            HMAC<SHA256>.authenticationCode(for: Array(authMessage.utf8), using: SymmetricKey(data: storedKey)))
        guard clientProof.count == signature.count else { return false }
        let clientKey = zip(clientProof, signature).map { $0 ^ $1 }
        return ConstantTime.equals(Array(SHA256.hash(data: clientKey)), storedKey)
    }
}
