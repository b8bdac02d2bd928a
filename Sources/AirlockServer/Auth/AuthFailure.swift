import Hummingbird

/// Why a bearer token was refused: the 401 codes of the API. Messages never contain the token.
public enum AuthFailure: String, Error, Sendable, CaseIterable {
    case missingToken = "missing_token"
    case malformedToken = "malformed_token"
    case invalidSignature = "invalid_signature"
    case unsupportedAlgorithm = "unsupported_algorithm"
    case tokenExpired = "token_expired"
    case tokenNotYetValid = "token_not_yet_valid"
    case invalidAudience = "invalid_audience"
    case unknownIssuer = "unknown_issuer"
    case unknownKey = "unknown_key"
    case unknownToken = "unknown_token"
    case tokenRevoked = "token_revoked"
    case invalidTokenType = "invalid_token_type"
    case unsupportedSubject = "unsupported_subject"

    /// The stable `error.code`.
    public var code: String { rawValue }

    /// A one-line explanation for the caller.
    public var message: String {
        switch self {
        case .missingToken: "this route needs `Authorization: Bearer TOKEN`"
        case .malformedToken: "the bearer token is not a well-formed jwt or airlock token"
        case .invalidSignature: "the token's signature does not verify"
        case .unsupportedAlgorithm: "the token's signing algorithm is not accepted for its key"
        case .tokenExpired: "the token has expired"
        case .tokenNotYetValid: "the token is not valid yet"
        case .invalidAudience: "the token is not meant for airlock (audience)"
        case .unknownIssuer: "the token's issuer is not trusted by this broker"
        case .unknownKey: "the token's signing key is not in its issuer's key set"
        case .unknownToken: "unknown token"
        case .tokenRevoked: "the token has been revoked"
        case .invalidTokenType: "the token's `typ` header is not a type this issuer's tokens may have here"
        case .unsupportedSubject:
            "the token's subject or manager cannot be a principal id (it contains `#` or starts with `token:`)"
        }
    }

    /// The 401 response error.
    public var apiError: APIError { APIError(.unauthorized, code: code, message: message) }
}
