import AirlockCore
import AirlockPolicy
import Foundation
import HTTPTypes
import Hummingbird

/// Answers 429 `rate_limited` with `Retry-After` (whole seconds) when a caller goes faster than its
/// ``RateLimit``. Only API paths (`/v1` and below) count; `/healthz`, `/readyz` and `/metrics` never do.
///
/// Two instances run: one by source address before authentication (so a flood of made-up tokens is turned away
/// before it costs a lookup), keyed as ``SourceAddress/rateLimitKey(peer:forwardedFor:trustedProxies:)`` says;
/// one by principal after it.
struct RateLimitMiddleware: RouterMiddleware {
    typealias Context = AirlockRequestContext

    enum Key: Sendable {
        /// The caller's source address (the TCP peer, or behind trusted proxies the forwarded client).
        case sourceAddress(trustedProxies: [CIDR])
        /// The authenticated principal.
        case principal
    }

    let limiter: RateLimiter
    let key: Key

    func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        guard limiter.limit.isOn, AuthenticationMiddleware<Context>.isAPIPath(request.uri.path),
              let key = key(for: request, context: context), let wait = limiter.admit(key)
        else { return try await next(request, context) }
        context.logger.notice("rate limited", metadata: ["limit": "\(self.key.name)", "retry_after": "\(wait)"])
        let error = APIError(
            .tooManyRequests, code: "rate_limited", message: "too many requests; retry after \(wait) s")
        let requestID = context.logger[metadataKey: "request_id"].map { "\($0)" } ?? ""
        var response = APIError.response(for: error, requestID: requestID, logger: context.logger)
        response.headers[.retryAfter] = String(wait)
        return response
    }

    private func key(for request: Request, context: Context) -> String? {
        switch key {
        case .sourceAddress(let trustedProxies):
            SourceAddress.rateLimitKey(
                peer: context.peerAddress, forwardedFor: request.headers[values: .forwardedFor],
                trustedProxies: trustedProxies)
        case .principal:
            context.principal.map(\.id)
        }
    }
}

extension RateLimitMiddleware.Key {
    var name: String {
        switch self {
        case .sourceAddress: "source_address"
        case .principal: "principal"
        }
    }
}
