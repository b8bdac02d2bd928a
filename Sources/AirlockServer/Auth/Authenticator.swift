import AirlockCore
import AirlockPostgres
import AirlockStore
import Foundation
import Logging

/// Turns an `Authorization` header into a ``Principal``: a JWT from a configured issuer, or an Airlock `alk_`
/// API token. Every refusal is a 401 ``APIError`` with one of the codes of ``AuthFailure``; neither the error
/// nor the log ever contains the token.
public struct Authenticator: Sendable {
    private let verifier: JWTVerifier
    private let tokens: ApiTokenStore?
    private let logger: Logger

    /// Creates an authenticator for the issuers of `configuration` and, when `tokens` is given, `alk_` tokens
    /// (without a store every `alk_` token is `unknown_token`). Throws when the configuration is invalid (for
    /// instance a key set URL that is not https).
    public init(
        configuration: AuthConfiguration, tokens: ApiTokenStore?, clock: any WallClock = SystemWallClock(),
        fetcher: any JWKSFetcher = HTTPJWKSFetcher(), logger: Logger
    ) throws(AuthConfigurationError) {
        self.verifier = try JWTVerifier(configuration: configuration, clock: clock, fetcher: fetcher, logger: logger)
        self.tokens = tokens
        self.logger = logger
    }

    /// The principal the `Authorization` header value authenticates (`Bearer TOKEN`, the scheme in any case).
    public func authenticate(authorizationHeader: String?) async throws(APIError) -> Principal {
        do {
            let token = try Self.bearerToken(authorizationHeader)
            if token.hasPrefix(ApiTokenFormat.Prefix.airlock.rawValue) {
                return try await authenticateApiToken(token)
            }
            if ApiTokenFormat.looksLikeToken(token) {
                // `alkc_` credential tokens are for resource servers, never for Airlock's own API.
                throw AuthFailure.unknownToken
            }
            return try await verifier.verify(token)
        } catch let failure as AuthFailure {
            logger.debug("authentication refused", metadata: ["code": "\(failure.code)"])
            throw failure.apiError
        } catch let error as APIError {
            throw error
        } catch {
            logger.error("authentication failed unexpectedly", metadata: ["error": "\(type(of: error))"])
            throw APIError(.internalServerError, code: "internal_error", message: "internal error; see the broker log")
        }
    }

    /// The person an OpenID Connect ID token from `issuer` signs in (the console's sign-in): verified as every JWT is
    /// (signature, `exp`, `nbf`, `iat`, `aud`), then from `issuer` exactly, for a person (not a workload issuer),
    /// and answering the sign-in's `nonce` (compared in constant time). Refusals are 401s, as for bearer tokens.
    public func signIn(idToken token: String, issuer: String, nonce: String) async throws(APIError) -> Principal {
        let principal: Principal
        do {
            guard !token.hasPrefix(ApiTokenFormat.Prefix.airlock.rawValue), !ApiTokenFormat.looksLikeToken(token) else {
                throw AuthFailure.malformedToken
            }
            principal = try await verifier.verify(token)
        } catch let failure as AuthFailure {
            logger.debug("console sign-in refused", metadata: ["code": "\(failure.code)"])
            throw failure.apiError
        } catch {
            throw APIError(.internalServerError, code: "internal_error", message: "internal error; see the broker log")
        }
        guard case .jwt(let signer) = principal.credential, signer == issuer, principal.kind == .user else {
            throw APIError(.unauthorized, code: "unknown_issuer", message: "the ID token is not from the console's issuer")
        }
        guard let claimed = UnverifiedJWT(token)?.claims.nonce,
              ConstantTime.equals(Array(claimed.utf8), Array(nonce.utf8))
        else {
            throw APIError(.unauthorized, code: "invalid_nonce", message: "the ID token does not answer this sign-in (nonce)")
        }
        return principal
    }

    /// The token of `Bearer TOKEN`: `missing_token` when there is no header or no token, `malformed_token` for
    /// another scheme or a token with spaces or control characters.
    static func bearerToken(_ header: String?) throws(AuthFailure) -> String {
        guard let header, !header.allSatisfy(\.isWhitespace) else { throw .missingToken }
        let parts = header.split(separator: " ", omittingEmptySubsequences: true)
        guard parts[0].lowercased() == "bearer" else { throw .malformedToken }
        guard parts.count == 2 else { throw parts.count == 1 ? .missingToken : .malformedToken }
        let token = String(parts[1])
        guard token.utf8.count <= 16_384, token.unicodeScalars.allSatisfy({ (0x21...0x7E).contains($0.value) }) else {
            throw .malformedToken
        }
        return token
    }

    private func authenticateApiToken(_ token: String) async throws -> Principal {
        guard ApiTokenFormat.parse(token) != nil else { throw AuthFailure.malformedToken }
        guard let tokens else { throw AuthFailure.unknownToken }
        let outcome: ApiTokenStore.Authentication
        do {
            outcome = try await tokens.authenticate(token, logger: logger)
        } catch {
            logger.error("cannot look up an api token", metadata: ["error": "\(describeDatabaseError(error))"])
            throw APIError(.serviceUnavailable, code: "not_ready", message: "cannot check the token now; try again")
        }
        switch outcome {
        case .authenticated(let record): return record.principal
        case .unknown: throw AuthFailure.unknownToken
        case .revoked: throw AuthFailure.tokenRevoked
        case .expired: throw AuthFailure.tokenExpired
        }
    }
}
