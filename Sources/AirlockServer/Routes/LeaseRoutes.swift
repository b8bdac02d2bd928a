import AirlockBroker
import AirlockCore
import AirlockStore
import Foundation
import Hummingbird

/// `GET /v1/leases` (`?limit=1...500&cursor=`, newest first, `{items, next_cursor}`) and `GET /v1/leases/{id}`: the
/// owner's leases; auditors and admins see all. `POST /v1/leases/{id}/revoke` (the owner, admins) ends a lease now,
/// `POST /v1/principals/{id}/revoke-all` (admins; the id percent-decoded) every lease of a principal and its open
/// requests; `POST /v1/leases/{id}/renew` `{ttl_seconds}` extends the owner's lease (see ``Leases``).
struct LeaseRoutes {
    let leases: Leases

    func register(on router: Router<AirlockRequestContext>) {
        router.get("v1/leases") { request, context in
            let principal = try context.requirePrincipal()
            let query = request.uri.queryParameters
            let page = try await leases.list(
                for: principal, limit: try Self.limit(query.get("limit")), cursor: try Self.cursor(query.get("cursor")))
            return JSONResponse.make(.object([
                "items": .array(page.items.map(Self.view)), "next_cursor": JSONResponse.id(page.nextCursor),
            ]))
        }
        router.get("v1/leases/:id") { _, context in
            JSONResponse.make(Self.view(try await leases.show(try leaseID(context), to: try context.requirePrincipal())))
        }
        router.post("v1/leases/:id/revoke") { _, context in
            JSONResponse.make(Self.view(try await leases.revoke(try leaseID(context), by: try context.requirePrincipal())))
        }
        router.post("v1/leases/:id/renew") { request, context in
            let principal = try context.requirePrincipal()
            let body = try await RequestBody.read(request, allowed: ["ttl_seconds"])
            let ttl = try body.int("ttl_seconds", required: true) ?? 0
            return JSONResponse.make(Self.view(try await leases.renew(try leaseID(context), by: principal, ttlSeconds: ttl)))
        }
        router.post("v1/principals/:id/revoke-all") { _, context in
            let caller = try context.requirePrincipal()
            let outcome = try await leases.revokeAll(of: try Self.principalID(context), by: caller)
            return JSONResponse.make(.object([
                "principal": .string(outcome.principal), "items": .array(outcome.leases.map(Self.view)),
                "closed_requests": .array(outcome.closedRequests.map { closed in
                    .object([
                        "id": JSONResponse.id(closed.id), "status": .string(closed.status.rawValue),
                        "previous_status": .string(closed.previousStatus.rawValue),
                        "resource": .string(closed.resourceID), "role": .string(closed.role),
                    ])
                }),
            ]))
        }
    }

    /// The principal id of the path, percent-decoded (RFC 3986): `repo%3Aorg%2Fapp` is `repo:org/app`, so any id,
    /// `/` included, can be addressed. Malformed escapes, or bytes that are not UTF-8, are 422 `validation_failed`.
    static func principalID(_ context: AirlockRequestContext) throws -> String {
        let raw = context.parameters.get("id") ?? ""
        guard let decoded = raw.removingPercentEncoding else {
            throw RequestBody.invalid("the principal id is not valid percent-encoded UTF-8")
        }
        return decoded
    }

    /// `limit`: 1 to ``LeaseStore/maximumPageSize`` (default 100), else 422 `validation_failed`.
    static func limit(_ text: String?) throws -> Int {
        Int(try AuditRoutes.integer(text, "limit", default: 100, range: 1...Int64(LeaseStore.maximumPageSize)))
    }

    /// `cursor`: the `next_cursor` of the previous page (a lease id), else 422 `validation_failed`.
    static func cursor(_ text: String?) throws -> UUID? {
        guard let text else { return nil }
        guard let cursor = UUID(uuidString: text) else {
            throw RequestBody.invalid("`cursor` must be the `next_cursor` of the previous page")
        }
        return cursor
    }

    func leaseID(_ context: AirlockRequestContext) throws -> UUID {
        guard let text = context.parameters.get("id"), let id = UUID(uuidString: text) else {
            throw APIError(.notFound, code: "not_found", message: "no such lease")
        }
        return id
    }

    static func view(_ lease: LeaseRecord) -> JSONValue {
        .object([
            "id": JSONResponse.id(lease.id), "request_id": JSONResponse.id(lease.requestID),
            "principal": .string(lease.principalID), "resource": .string(lease.resourceID),
            "role": .string(lease.role), "kind": .string(lease.kind.rawValue),
            "username": lease.username.map { .string($0) } ?? .null, "status": .string(lease.status.rawValue),
            "issued_at": JSONResponse.time(lease.issuedAt), "expires_at": JSONResponse.time(lease.expiresAt),
            "revoked_at": JSONResponse.time(lease.revokedAt),
            "last_error": lease.lastError.map { .string($0) } ?? .null,
        ])
    }
}
