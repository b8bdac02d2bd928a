import AirlockCore
import Hummingbird
import NIOCore

/// The request context of every Airlock route: Hummingbird's core storage, the authenticated caller, and the
/// TCP peer (the basis of `request.source_ip`).
public struct AirlockRequestContext: RequestContext, AuthenticatedRequestContext {
    public var coreContext: CoreRequestContextStorage
    /// Set by ``AuthenticationMiddleware`` on `/v1` routes.
    public var principal: Principal?
    /// The TCP peer's address, without port.
    public let peerAddress: String?

    public init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.principal = nil
        self.peerAddress = source.channel.remoteAddress?.ipAddress
    }

    /// Bodies above 64 KiB are refused with 413 `payload_too_large`.
    public var maxUploadSize: Int { 64 * 1024 }
}

extension AuthenticatedRequestContext {
    /// The authenticated caller when it holds `scope`, else 403 `forbidden`. Only `alk_` tokens carry scopes, so
    /// a JWT (a person or a workload) never passes: admin routes are for `alk_` tokens with the `admin` scope.
    public func requirePrincipal(withScope scope: ApiTokenScope) throws(APIError) -> Principal {
        let principal = try requirePrincipal()
        guard principal.has(scope: scope.rawValue) else {
            throw APIError(
                .forbidden, code: "forbidden", message: "this route needs an airlock token with the `\(scope.rawValue)` scope")
        }
        return principal
    }
}
