import AirlockBroker
import AirlockCore
import AirlockStore
import Foundation
import Hummingbird

/// `GET /v1/leases` and `GET /v1/leases/{id}`: the owner's leases; auditors and admins see all.
/// `POST /v1/leases/{id}/revoke` (the owner, admins) and `POST /v1/principals/{id}/revoke-all` (admins) end
/// leases now; `POST /v1/leases/{id}/renew` `{ttl_seconds}` extends the owner's lease (see ``Leases``).
struct LeaseRoutes {
    let leases: Leases

    func register(on router: Router<AirlockRequestContext>) {
        router.get("v1/leases") { _, context in
            let records = try await leases.list(for: try context.requirePrincipal())
            return JSONResponse.make(.object(["items": .array(records.map(Self.view)), "next_cursor": .null]))
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
            let principal = context.parameters.get("id") ?? ""
            let ended = try await leases.revokeAll(of: principal, by: caller)
            return JSONResponse.make(.object(["principal": .string(principal), "items": .array(ended.map(Self.view))]))
        }
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
