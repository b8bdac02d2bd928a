import AirlockCore
import AirlockStore
import Foundation
import Hummingbird

/// `GET /v1/leases` and `GET /v1/leases/{id}`: the owner's leases; auditors and admins see all.
struct LeaseRoutes {
    let leases: LeaseStore

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
