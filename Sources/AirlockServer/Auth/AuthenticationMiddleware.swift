import AirlockCore
import Hummingbird

/// A request context that carries the authenticated ``Principal``.
public protocol AuthenticatedRequestContext: RequestContext {
    /// The caller, once ``AuthenticationMiddleware`` has authenticated the request.
    var principal: Principal? { get set }
}

extension AuthenticatedRequestContext {
    /// The authenticated caller; `missing_token` when the route was not behind ``AuthenticationMiddleware``.
    public func requirePrincipal() throws(APIError) -> Principal {
        guard let principal else { throw AuthFailure.missingToken.apiError }
        return principal
    }
}

/// Authenticates every request under `/v1` except the exempt paths (`/v1/dev/jwks.json`), and the Shared Signals
/// stream management paths, storing the principal in the context; other paths (`/healthz`, `/readyz`, `/metrics`,
/// `/ssf/receive`) pass untouched.
/// Refusals are thrown as 401 ``APIError``s, rendered by the error middleware.
public struct AuthenticationMiddleware<Context: AuthenticatedRequestContext>: RouterMiddleware {
    /// Paths under `/v1` that need no token.
    public static var defaultExemptPaths: Set<String> { ["/v1/dev/jwks.json"] }

    private let authenticator: Authenticator
    private let exemptPaths: Set<String>

    /// Creates the middleware.
    public init(authenticator: Authenticator, exemptPaths: Set<String> = Self.defaultExemptPaths) {
        self.authenticator = authenticator
        self.exemptPaths = exemptPaths
    }

    /// Authenticates `request` when its path needs it, then calls `next`.
    public func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        let path = request.uri.path
        guard Self.needsAuthentication(path: path, exempt: exemptPaths) else { return try await next(request, context) }
        let values = request.headers[values: .authorization]
        guard values.count <= 1 else { throw AuthFailure.malformedToken.apiError }
        var context = context
        context.principal = try await authenticator.authenticate(authorizationHeader: values.first)
        return try await next(request, context)
    }

    /// Whether `path` is an API path (`/v1` or below) that is not exempt, judged on the path as the router sees it
    /// (empty segments collapsed), so `//v1/tokens` is no way around authentication. (``CanonicalPathMiddleware``
    /// refuses such paths before this runs; this is the second line.)
    static func needsAuthentication(path: String, exempt: Set<String>) -> Bool {
        let routed = routerPath(path)
        guard isAPIPath(routed) else { return false }
        return !exempt.contains(routed)
    }

    /// Whether `path` is `/v1` or below, or a Shared Signals stream management path (`/ssf/streams`, `/ssf/status`,
    /// `/ssf/verify`, `/ssf/poll/…`), as the router sees it. (`/ssf/receive` checks its transmitters' own tokens;
    /// `/ssf/jwks` and `/.well-known/…` are public.)
    static func isAPIPath(_ path: String) -> Bool {
        let routed = routerPath(path)
        return routed == "/v1" || routed.hasPrefix("/v1/")
            || SharedSignalsTransmitterRoutes.authenticatedPaths.contains(routed)
            || routed.hasPrefix(SharedSignalsTransmitterRoutes.pollPrefix)
    }

    /// `path` with empty segments dropped, as Hummingbird's router matches it.
    static func routerPath(_ path: String) -> String {
        // The common case, a path already in that form, is returned as it is (without splitting and joining it on
        // every request).
        let bytes = path.utf8
        if bytes.first == UInt8(ascii: "/"), bytes.count == 1 || bytes.last != UInt8(ascii: "/"),
           !zip(bytes, bytes.dropFirst()).contains(where: { $0 == UInt8(ascii: "/") && $1 == UInt8(ascii: "/") }) {
            return path
        }
        return "/" + path.split(separator: "/", omittingEmptySubsequences: true).joined(separator: "/")
    }
}
