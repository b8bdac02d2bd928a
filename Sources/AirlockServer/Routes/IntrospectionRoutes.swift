import AirlockCore
import AirlockStore
import Foundation
import Hummingbird

/// `POST /v1/tokens/introspect` (RFC 7662): a resource server holding an `alk_` token with the `introspect` scope
/// asks whether an `alkc_` credential token is active.
///
/// The caller learns only about tokens for its own audience: the `audience` its `alk_` token was created with.
/// A credential token minted for another audience answers `{"active": false}`, exactly like an unknown one (RFC 7662
/// §2.2 lets the server answer so when the caller may not know), so one resource server cannot learn who holds
/// another's tokens. An `introspect` token without an audience (created before audiences existed) is refused (403).
///
/// The body is the RFC's form (`token=…&token_type_hint=…`, `application/x-www-form-urlencoded`) or JSON
/// `{"token": "…", "token_type_hint": "…"}`. Anything that is not an active credential token (malformed, foreign,
/// unknown, expired, revoked, or with a lease no longer active) answers `{"active": false}` and nothing else.
struct IntrospectionRoutes {
    let tokens: CredentialTokenStore

    init(introspector tokens: CredentialTokenStore) {
        self.tokens = tokens
    }

    func register(on router: Router<AirlockRequestContext>) {
        router.post("v1/tokens/introspect") { request, context in try await introspect(request, context) }
    }

    func introspect(_ request: Request, _ context: AirlockRequestContext) async throws -> Response {
        let caller = try context.requirePrincipal()
        guard caller.has(scope: ApiTokenScope.introspect.rawValue) else {
            throw APIError(.forbidden, code: "forbidden", message: "introspection needs a token with the `introspect` scope")
        }
        guard case .apiToken(let audience?) = caller.credential else {
            throw APIError(.forbidden, code: "forbidden", message:
                "this introspect token has no audience; create one with the audience it introspects for")
        }
        let token = try await Self.token(of: request)
        var answer: JSONValue = ["active": false]
        if let active = try await tokens.active(token), Principal.sameID(active.audience, audience) {
            answer = .object([
                "active": true, "scope": .string(active.scopes.joined(separator: " ")), "aud": .string(active.audience),
                "sub": .string(active.subject), "exp": .int(Int64(active.expiresAt.timeIntervalSince1970.rounded(.down))),
                "iat": .int(Int64(active.issuedAt.timeIntervalSince1970.rounded(.down))),
                "lease_id": JSONResponse.id(active.leaseID), "token_type": "Bearer",
            ])
        }
        var response = JSONResponse.make(answer)
        response.headers[.cacheControl] = "no-store"
        return response
    }

    /// The `token` parameter of a form or JSON body: 422 `validation_failed` when it is missing.
    static func token(of request: Request) async throws -> String {
        let form = request.headers[.contentType]?.lowercased().hasPrefix("application/x-www-form-urlencoded") ?? false
        guard form else {
            let body = try await RequestBody.read(request, allowed: ["token", "token_type_hint"])
            _ = try body.string("token_type_hint", maxLength: 64)
            return try body.string("token", required: true, maxLength: 1024) ?? ""
        }
        let buffer: ByteBuffer
        do {
            buffer = try await request.body.collect(upTo: RequestBody.limit)
        } catch {
            throw APIError(.contentTooLarge, code: "payload_too_large", message: "the body is larger than 64 KiB")
        }
        let text = String(decoding: buffer.readableBytesView, as: UTF8.self)
        for pair in text.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard parts.count == 2, parts[0] == "token" else { continue }
            guard let value = String(parts[1]).replacingOccurrences(of: "+", with: " ").removingPercentEncoding else {
                throw RequestBody.invalid("`token` is not valid form encoding")
            }
            return value
        }
        throw RequestBody.invalid("`token` is required")
    }
}
