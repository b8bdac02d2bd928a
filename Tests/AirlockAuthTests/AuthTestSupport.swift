import AirlockCore
import AirlockServer
import Foundation
import JWTKit
import Logging
import Synchronization

/// A clock the test sets.
final class TestClock: WallClock {
    private let current: Mutex<Date>

    init(_ date: Date = Date(timeIntervalSince1970: 1_800_000_000)) { current = Mutex(date) }

    func now() -> Date { current.withLock { $0 } }
    func advance(_ seconds: TimeInterval) { current.withLock { $0 = $0.addingTimeInterval(seconds) } }
    var unix: Double { now().timeIntervalSince1970 }
}

/// An ES256 signing key with its JWKS, for a test issuer.
struct TestKey: Sendable {
    let kid: String
    let privateKey: ES256PrivateKey

    init(kid: String) {
        self.kid = kid
        self.privateKey = ES256PrivateKey()
    }

    /// The public JWKS of `keys`.
    static func jwks(_ keys: [TestKey]) -> String {
        let entries = keys.map { key -> String in
            let parameters = key.privateKey.publicKey.parameters
            return #"{"kty":"EC","crv":"P-256","kid":"\#(key.kid)","x":"\#(parameters?.x ?? "")","y":"\#(parameters?.y ?? "")"}"#
        }
        return #"{"keys":[\#(entries.joined(separator: ","))]}"#
    }

    func sign(_ claims: TokenClaims, kid: String? = nil) async throws -> String {
        let keys = JWTKeyCollection()
        let kid = JWKIdentifier(string: kid ?? self.kid)
        await keys.add(ecdsa: privateKey, kid: kid)
        return try await keys.sign(claims, kid: kid)
    }
}

/// Temporary files for key sets.
final class TemporaryDirectory: Sendable {
    let url: URL

    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("airlock-auth-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    func write(_ name: String, _ text: String) throws -> String {
        let file = url.appendingPathComponent(name)
        try Data(text.utf8).write(to: file)
        return file.path
    }

    deinit { try? FileManager.default.removeItem(at: url) }
}

/// A key set server for `.url` issuers: serves what the test puts in, counting fetches.
final class FakeFetcher: JWKSFetcher {
    private let state = Mutex<(document: String, fetches: Int)>(("{\"keys\":[]}", 0))

    func set(_ document: String) { state.withLock { $0.document = document } }
    var fetches: Int { state.withLock { $0.fetches } }

    func fetch(_ url: URL) async throws -> Data {
        state.withLock {
            $0.fetches += 1
            return Data($0.document.utf8)
        }
    }
}

/// Claims that verify for issuer `iss` at `clock`'s time, to be varied by each test.
func validClaims(
    _ clock: TestClock, iss: String = "https://idp.example", sub: String = "alice", aud: [String] = ["airlock"]
) -> TokenClaims {
    TokenClaims(
        issuer: iss, subject: sub, audiences: aud, expiresAt: clock.unix + 300, notBefore: clock.unix - 10,
        issuedAt: clock.unix - 10)
}

/// Replaces a JWT's header with `json` (the signature then no longer matches, which is the point).
func replacingHeader(of token: String, with json: String) -> String {
    let parts = token.split(separator: ".", omittingEmptySubsequences: false)
    return base64URL(json) + "." + parts[1] + "." + parts[2]
}

func base64URL(_ text: String) -> String {
    Data(text.utf8).base64EncodedString()
        .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
        .replacingOccurrences(of: "=", with: "")
}
