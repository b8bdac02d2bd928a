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
