import AirlockCore
import Foundation
import Logging
import PostgresNIO

/// A lease as the API shows it.
public struct LeaseRecord: Sendable, Hashable {
    public var id: UUID
    public var requestID: UUID
    public var principalID: String
    public var resourceID: String
    public var role: String
    public var kind: String
    public var username: String?
    public var status: String
    public var issuedAt: Date?
    public var expiresAt: Date
    public var revokedAt: Date?
    public var lastError: String?
}

/// A lease begun: written as `issuing` before anything exists on the target.
public struct LeaseIntent: Sendable, Hashable {
    public let lease: UUID
    public let expiresAt: Date
    public let resourceID: String
    public let role: String
}

/// Leases: intent first. ``begin(_:kind:ttlSeconds:)`` writes the lease row (`issuing`) in the same transaction
/// that claims the approved request, before anything exists on the target; ``activate(_:username:)`` marks it
/// `active` and the request `issued` with the `airlock.credential.issued` event; ``abandon(_:error:)`` hands a
/// failed issuance to revocation (`revoking`), so no credential can exist that Airlock does not know about.
public struct LeaseStore: Sendable {
    public let requests: AccessRequestStore

    /// Creates a lease store on top of the request store (same database, audit log and clock).
    public init(requests: AccessRequestStore) {
        self.requests = requests
    }

    private var logger: Logger { requests.logger }

    /// Claims the approved request `requestID` of `principal` for pickup and writes the lease intent.
    /// Throws ``AccessRequestError`` `not_approved` (pending or denied), `already_retrieved` (picked up before),
    /// `request_closed` (expired), or ``StoreError`` `not_found` / `forbidden`.
    /// `kindOf` names the kind of credential the request's resource issues, or throws to refuse the pickup before
    /// any intent is written (a resource no longer configured, a kind this broker cannot issue).
    public func begin(
        _ requestID: UUID, by principal: Principal, kindOf: (_ resourceID: String) throws -> Resource.Kind
    ) async throws -> LeaseIntent {
        try await requests.transaction { connection in
            guard let record = try await requests.load(requestID, on: connection, lock: true, withReviews: false) else {
                throw StoreError(code: "not_found", message: "no access request `\(requestID)`")
            }
            guard record.principalID == principal.id else {
                throw StoreError(code: "forbidden", message: "only the requester may pick up the credential")
            }
            let now = requests.clock.now()
            switch record.status {
            case .approved:
                break
            case .issued:
                throw AccessRequestError(.alreadyRetrieved, "the credential of this request was already picked up")
            case .pendingApproval, .requested:
                throw AccessRequestError(.notApproved, "the request is still waiting for approval")
            case .denied:
                throw AccessRequestError(.notApproved, "the request was denied")
            case .expired:
                throw AccessRequestError(.requestClosed, "the request expired")
            }
            if let deadline = record.pickupDeadline, now > deadline {
                throw AccessRequestError(.requestClosed, "the pickup window of this request has passed")
            }
            guard record.leaseID == nil else {
                throw AccessRequestError(.alreadyRetrieved, "the credential of this request was already picked up")
            }
            let kind = try kindOf(record.resourceID)
            let ttl = TimeInterval(record.grantedTTLSeconds ?? record.ttlSeconds)
            let expiresAt = now.addingTimeInterval(ttl)
            let id = UUID()
            try await connection.query("""
                INSERT INTO leases (id, request_id, principal_id, resource_id, role, kind, status, expires_at,
                    max_expires_at, created_at)
                VALUES (\(id), \(requestID), \(record.principalID), \(record.resourceID), \(record.role),
                    \(kind.rawValue), 'issuing', \(expiresAt), \(expiresAt), \(now))
                """, logger: logger)
            return LeaseIntent(lease: id, expiresAt: expiresAt, resourceID: record.resourceID, role: record.role)
        }
    }

    /// Marks the lease `active` with the minted `username` (nil for tokens), the request `issued`, and appends
    /// `airlock.credential.issued` (names the username and lease, never the secret), in one transaction.
    public func activate(_ leaseID: UUID, username: String?, tokenID: UUID? = nil) async throws {
        try await requests.transaction { connection in
            let rows = try await connection.query("""
                UPDATE leases SET status = 'active', username = \(username), token_id = \(tokenID),
                    issued_at = \(requests.clock.now())
                WHERE id = \(leaseID) AND status = 'issuing'
                RETURNING request_id, principal_id, resource_id, role, expires_at
                """, logger: logger)
            var found: (UUID, String, String, String, Date)?
            for try await row in rows.decode((UUID, String, String, String, Date).self) { found = row }
            guard let (requestID, principal, resource, role, expiresAt) = found else {
                throw StoreError(code: "lease_not_issuing", message: "lease `\(leaseID)` is not being issued")
            }
            try await requests.markIssued(requestID, leaseID: leaseID, on: connection)
            var data: [String: JSONValue] = [
                "lease_id": .string(leaseID.uuidString.lowercased()),
                "request_id": .string(requestID.uuidString.lowercased()),
                "principal": .string(principal), "resource": .string(resource), "role": .string(role),
                "expires_at": .string(AuditTime.format(expiresAt)),
            ]
            if let username { data["username"] = .string(username) }
            if let tokenID { data["token_id"] = .string(tokenID.uuidString.lowercased()) }
            try await requests.auditLog.append(
                NewAuditEvent(type: "airlock.credential.issued", subject: leaseID.uuidString.lowercased(), data: data),
                on: connection, logger: logger)
        }
    }

    /// A failed issuance: the lease goes to `revoking` (due now) with the error, so revocation removes whatever
    /// part of the credential may exist. `error` must hold no secret.
    public func abandon(_ leaseID: UUID, error: String) async throws {
        try await requests.database.client.query("""
            UPDATE leases SET status = 'revoking', last_error = \(error), next_attempt_at = \(requests.clock.now())
            WHERE id = \(leaseID) AND status = 'issuing'
            """, logger: logger)
    }

    /// The lease `id`, or nil.
    public func get(_ id: UUID) async throws -> LeaseRecord? {
        try await fetch("WHERE id = \(id)").first
    }

    /// The leases of `principal` (all principals when nil), newest first.
    public func list(principal: String?, limit: Int = 100) async throws -> [LeaseRecord] {
        if let principal {
            return try await fetch("WHERE principal_id = \(principal) ORDER BY created_at DESC LIMIT \(limit)")
        }
        return try await fetch("ORDER BY created_at DESC LIMIT \(limit)")
    }

    private func fetch(_ condition: PostgresQuery) async throws -> [LeaseRecord] {
        var query: PostgresQuery = """
            SELECT id, request_id, principal_id, resource_id, role, kind, username, status, issued_at, expires_at,
                revoked_at, last_error FROM leases
            """
        query.sql += " " + condition.sql
        query.binds = condition.binds
        let rows = try await requests.database.client.query(query, logger: logger)
        var leases: [LeaseRecord] = []
        for try await row in rows {
            let c = row.makeRandomAccess()
            leases.append(LeaseRecord(
                id: try c["id"].decode(UUID.self), requestID: try c["request_id"].decode(UUID.self),
                principalID: try c["principal_id"].decode(String.self), resourceID: try c["resource_id"].decode(String.self),
                role: try c["role"].decode(String.self), kind: try c["kind"].decode(String.self),
                username: try c["username"].decode(String?.self), status: try c["status"].decode(String.self),
                issuedAt: try c["issued_at"].decode(Date?.self), expiresAt: try c["expires_at"].decode(Date.self),
                revokedAt: try c["revoked_at"].decode(Date?.self), lastError: try c["last_error"].decode(String?.self)))
        }
        return leases
    }
}
