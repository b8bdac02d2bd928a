import AirlockCore
import AirlockStore
import Foundation
import Hummingbird

/// `GET /v1/leases` and `GET /v1/leases/{id}`: the owner's leases; auditors and admins see all.
/// `POST /v1/leases/{id}/revoke` (the owner, admins) and `POST /v1/principals/{id}/revoke-all` (admins) end
/// leases now: the credential is removed before the answer, or the lease is left `revoking` with its error and
/// retried in the background.
struct LeaseRoutes {
    let broker: AccessBroker
    let revoker: LeaseRevoker

    var leases: LeaseStore { broker.leases }

    func register(on router: Router<AirlockRequestContext>) {
        router.get("v1/leases") { _, context in
            let principal = try context.requirePrincipal()
            let everyone = principal.has(scope: "auditor") || principal.has(scope: "admin")
            let records = try await leases.list(principal: everyone ? nil : principal.id)
            return JSONResponse.make(.object(["items": .array(records.map(Self.view)), "next_cursor": .null]))
        }
        router.get("v1/leases/:id") { _, context in
            let principal = try context.requirePrincipal()
            guard let text = context.parameters.get("id"), let id = UUID(uuidString: text),
                  let lease = try await leases.get(id),
                  lease.principalID == principal.id || principal.has(scope: "auditor") || principal.has(scope: "admin")
            else { throw APIError(.notFound, code: "not_found", message: "no such lease") }
            return JSONResponse.make(Self.view(lease))
        }
        router.post("v1/leases/:id/revoke") { _, context in try await revoke(context) }
        router.post("v1/leases/:id/renew") { request, context in
            try await LeaseRenewal(broker: broker).renew(request, context)
        }
        router.post("v1/principals/:id/revoke-all") { _, context in try await revokeAll(context) }
    }

    func revoke(_ context: AirlockRequestContext) async throws -> Response {
        let principal = try context.requirePrincipal()
        guard let text = context.parameters.get("id"), let id = UUID(uuidString: text),
              let lease = try await leases.get(id),
              lease.principalID == principal.id || principal.has(scope: "admin") || principal.has(scope: "auditor")
        else { throw APIError(.notFound, code: "not_found", message: "no such lease") }
        guard lease.principalID == principal.id || principal.has(scope: "admin") else {
            throw APIError(.forbidden, code: "forbidden", message: "only the lease's owner or an admin may revoke it")
        }
        let marked = try await revoker.store.markForRevocation(ids: [id], reason: "revoked by \(principal.id)")
        if !marked.isEmpty || lease.status == "revoking" { try await revoker.revokeDue(ids: [id]) }
        guard let after = try await leases.get(id) else { throw APIError(.notFound, code: "not_found", message: "no such lease") }
        return JSONResponse.make(Self.view(after))
    }

    func revokeAll(_ context: AirlockRequestContext) async throws -> Response {
        let caller = try context.requirePrincipal()
        guard caller.has(scope: "admin") else {
            throw APIError(.forbidden, code: "forbidden", message: "revoke-all needs a token with the `admin` scope")
        }
        guard let principal = context.parameters.get("id"), !principal.isEmpty, principal.utf8.count <= 256 else {
            throw APIError(.notFound, code: "not_found", message: "no such principal")
        }
        let marked = try await revoker.store.markForRevocation(principal: principal, reason: "revoke-all by \(caller.id)")
        if !marked.isEmpty { try await revoker.revokeDue(ids: marked, limit: marked.count) }
        var ended: [JSONValue] = []
        for id in marked { if let lease = try await leases.get(id) { ended.append(Self.view(lease)) } }
        return JSONResponse.make(.object(["principal": .string(principal), "items": .array(ended)]))
    }

    static func view(_ lease: LeaseRecord) -> JSONValue {
        .object([
            "id": JSONResponse.id(lease.id), "request_id": JSONResponse.id(lease.requestID),
            "principal": .string(lease.principalID), "resource": .string(lease.resourceID),
            "role": .string(lease.role), "kind": .string(lease.kind),
            "username": lease.username.map { .string($0) } ?? .null, "status": .string(lease.status),
            "issued_at": JSONResponse.time(lease.issuedAt), "expires_at": JSONResponse.time(lease.expiresAt),
            "revoked_at": JSONResponse.time(lease.revokedAt),
            "last_error": lease.lastError.map { .string($0) } ?? .null,
        ])
    }
}
