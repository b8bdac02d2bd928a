import AirlockBroker
import AirlockCore
import AirlockStore
import Foundation
import Hummingbird

/// `/v1/tokens`: admins (an `alk_` token with the `admin` scope) create, list and revoke Airlock's own `alk_` API
/// tokens. Everyone else gets 403 `forbidden`, before the body is read.
///
/// - `POST /v1/tokens` → 201 with the token's record and `token`, the secret, shown this once (`Cache-Control:
///   no-store`, `Pragma: no-cache`); Airlock keeps only its hash.
/// - `GET /v1/tokens` → `{items: [record]}`, newest first, revoked ones included; never a secret or its hash.
/// - `DELETE /v1/tokens/{id}` → 204 once every live broker has dropped the token from its caches (see
///   ``RevocationBarrier``), so it is refused from its next request on, whichever broker that reaches. Revoking a
///   revoked token is 204 again, as Vault's revoke is idempotent; an id that names no token (or is no UUID) is 404
///   `not_found`.
///
/// `airlock.token.created` and `airlock.token.revoked` are audited with the caller's principal id as `actor`.
struct TokenRoutes {
    let tokens: ApiTokens

    func register(on router: Router<AirlockRequestContext>) {
        let group = router.group("v1/tokens")
        group.post { request, context in try await create(request, context) }
        group.get { _, context in try await list(context) }
        group.delete(":id") { _, context in try await revoke(context) }
    }

    func create(_ request: Request, _ context: AirlockRequestContext) async throws -> Response {
        let admin = try context.requirePrincipal(withScope: .admin)
        let ask = try TokenCreation.read(try await RequestBody.read(request, allowed: TokenCreation.fields))
        let (record, secret) = try await tokens.create(ask, by: admin.id, logger: context.logger)
        context.logger.info(
            "api token created", metadata: ["token_id": "\(Self.text(record.id))", "actor": "\(admin.id)"])
        var answer = Self.fields(record)
        answer["token"] = .string(secret)
        return JSONResponse.secret(.object(answer), status: .created)
    }

    func list(_ context: AirlockRequestContext) async throws -> Response {
        _ = try context.requirePrincipal(withScope: .admin)
        let records = try await tokens.list(logger: context.logger)
        return JSONResponse.make(.object(["items": .array(records.map(Self.view))]))
    }

    func revoke(_ context: AirlockRequestContext) async throws -> Response {
        let admin = try context.requirePrincipal(withScope: .admin)
        guard let text = context.parameters.get("id"), let id = UUID(uuidString: text) else {
            throw BrokerError.notFound("no such api token")
        }
        if try await tokens.revoke(id, by: admin.id, logger: context.logger) == .revoked {
            context.logger.info("api token revoked", metadata: ["token_id": "\(Self.text(id))", "actor": "\(admin.id)"])
        }
        return Response(status: .noContent)
    }

    /// A token as the API shows it: everything but the secret, which Airlock does not have.
    static func view(_ record: ApiTokenRecord) -> JSONValue { .object(fields(record)) }

    private static func fields(_ record: ApiTokenRecord) -> [String: JSONValue] {
        [
            "id": JSONResponse.id(record.id), "name": .string(record.name),
            "scopes": .array(record.scopes.map { .string($0.rawValue) }),
            "groups": .array(record.groups.map { .string($0) }),
            "created_at": JSONResponse.time(record.createdAt), "expires_at": JSONResponse.time(record.expiresAt),
            "last_used_at": JSONResponse.time(record.lastUsedAt), "revoked_at": JSONResponse.time(record.revokedAt),
            "audience": record.audience.map { .string($0) } ?? .null,
        ]
    }

    private static func text(_ id: UUID) -> String { id.uuidString.lowercased() }
}
