import AirlockCore
import AirlockServer
import AirlockTestSupport
import Foundation
import JWTKit
import Logging
import Synchronization

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
