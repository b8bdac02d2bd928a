import AirlockCore
import Foundation
import Testing

/// Realistic Airlock audit events, built as the broker builds them (``NewAuditEvent/cloudEvent(id:source:time:)``)
/// with the data its stores write, then chained as the chainer stores them.
struct AuditEventSample: Sendable, CustomTestStringConvertible {
    let name: String
    let event: JSONValue
    /// The expected `class_uid`, `activity_id` and `status_id`.
    let classUID: Int64
    let activityID: Int64
    let statusID: Int64

    var testDescription: String { name }

    /// 2026-11-29T13:26:10.123Z, read as the mapping reads it (a `Date` literal may miss the millisecond).
    static let time = (try? Date(
        "2026-11-29T13:26:10.123Z", strategy: Date.ISO8601FormatStyle(includingFractionalSeconds: true, timeZone: .gmt)))
        ?? .distantPast
    static let timeMilliseconds: Int64 = 1_795_958_770_123
    static let source = "urn:airlock"
    static let requestID = "5d7c8a4e-0b7f-4c1e-9a43-2f0d6c1b9e21"
    static let leaseID = "9b2e4f10-6a3d-4f8e-b1c7-0e5d2a9c7f34"
    static let tokenID = "c41f0e7a-93b2-4d6c-8e15-7a0b3d2f9e68"
    static let policySetID = "e0a1b2c3-d4e5-4f60-8172-93a4b5c6d7e8"

    /// The event for `new`, with `sequence`, `prevhash` and `hash` as the chainer adds them (unless `chained` is
    /// false).
    static func stored(
        _ new: NewAuditEvent, id: String = UUID().uuidString, sequence: Int64 = 42, chained: Bool = true
    ) -> JSONValue {
        let uuid = UUID(uuidString: id) ?? UUID()
        guard case .object(var members) = new.cloudEvent(id: uuid, source: source, time: time) else { return .null }
        if chained {
            let prevhash = String(repeating: "ab", count: 32)
            let hash = AuditChain.hash(prevhash: prevhash, event: JSONValue.object(members).canonicalString())
            members["sequence"] = .int(sequence)
            members["prevhash"] = .string(prevhash)
            members["hash"] = .string(hash)
        }
        return .object(members)
    }

    /// The facts every access-request event carries (`AuditFacts` in AirlockStore).
    static func requestFacts(decision: String = "require_approval") -> [String: JSONValue] {
        ["request_id": .string(requestID), "principal": "alice", "resource": "orders-db", "role": "readwrite",
         "decision": .string(decision), "rules": ["prod-needs-approval"], "ttl_seconds": 1800]
    }

    /// The facts a lease's credential events carry (`LeaseRevocationStore.facts`, `LeaseStore.activate`).
    static func leaseFacts(postgres: Bool) -> [String: JSONValue] {
        var data: [String: JSONValue] = [
            "lease_id": .string(leaseID), "request_id": .string(requestID), "principal": "alice",
            "resource": postgres ? "orders-db" : "payments-api", "role": postgres ? "readonly" : "read",
        ]
        if postgres {
            data["username"] = "alk_alice_orders_db_k3v9q"
        } else {
            data["token_id"] = .string(tokenID)
        }
        return data
    }

    /// One sample per mapping row.
    static let all: [AuditEventSample] = {
        var samples: [AuditEventSample] = []
        func add(_ name: String, _ new: NewAuditEvent, _ classUID: Int64, _ activityID: Int64, status: Int64 = 1) {
            samples.append(AuditEventSample(
                name: name, event: stored(new), classUID: classUID, activityID: activityID, statusID: status))
        }
        var requested = requestFacts()
        requested["requested_ttl_seconds"] = 3600
        requested["break_glass"] = false
        add("access.requested", NewAuditEvent(
            type: "airlock.access.requested", subject: requestID, channels: ["#db-access"], data: requested), 3004, 1)
        var approved = requestFacts()
        approved["pickup_deadline"] = "2026-11-29T13:41:10.123Z"
        approved["approval_rule"] = "prod-needs-approval"
        approved["reviewer"] = "bob"
        approved["verdict"] = "approve"
        add("access.approved", NewAuditEvent(
            type: "airlock.access.approved", subject: requestID, channels: ["#db-access"], data: approved), 3004, 3)
        var denied = requestFacts(decision: "deny")
        denied["reviewer"] = "bob"
        add("access.denied", NewAuditEvent(type: "airlock.access.denied", subject: requestID, data: denied), 3004, 3)
        var revoked = requestFacts(decision: "allow")
        revoked["actor"] = "carol"
        revoked["reason"] = "incident closed"
        revoked["previous_status"] = "approved"
        add("access.revoked", NewAuditEvent(
            type: "airlock.access.revoked", subject: requestID, severity: .medium, data: revoked), 3004, 11)

        var issuedPostgres = leaseFacts(postgres: true)
        issuedPostgres["expires_at"] = "2026-11-29T13:56:10.123Z"
        add("credential.issued (postgres)", NewAuditEvent(
            type: "airlock.credential.issued", subject: leaseID, data: issuedPostgres), 3005, 1)
        var issuedToken = leaseFacts(postgres: false)
        issuedToken["expires_at"] = "2026-11-29T13:56:10.123Z"
        add("credential.issued (token)", NewAuditEvent(
            type: "airlock.credential.issued", subject: leaseID, data: issuedToken), 3005, 1)
        var revokedPostgres = leaseFacts(postgres: true)
        revokedPostgres["reason"] = "expired"
        revokedPostgres["terminated_sessions"] = 2
        add("credential.revoked (postgres)", NewAuditEvent(
            type: "airlock.credential.revoked", subject: leaseID, data: revokedPostgres), 3005, 2)
        var revokedToken = leaseFacts(postgres: false)
        revokedToken["reason"] = "revoked"
        revokedToken["terminated_sessions"] = 0
        add("credential.revoked (token)", NewAuditEvent(
            type: "airlock.credential.revoked", subject: leaseID, data: revokedToken), 3005, 2)
        var revocationFailed = leaseFacts(postgres: true)
        revocationFailed["error"] = "connection refused by orders.example.internal:5432"
        revocationFailed["attempts"] = 3
        revocationFailed["next_attempt_at"] = "2026-11-29T13:27:10.123Z"
        add("credential.revocation_failed", NewAuditEvent(
            type: "airlock.credential.revocation_failed", subject: leaseID, severity: .high, data: revocationFailed),
            3005, 2, status: 2)

        add("lease.expired", NewAuditEvent(
            type: "airlock.lease.expired", subject: leaseID, data: leaseFacts(postgres: true)), 3004, 11)
        add("lease.renewed", NewAuditEvent(
            type: "airlock.lease.renewed", subject: leaseID,
            data: ["lease_id": .string(leaseID), "expires_at": "2026-11-29T14:26:10.123Z",
                   "max_expires_at": "2026-11-29T17:26:10.123Z", "actor": "alice"]), 3004, 3)

        add("auth.login", NewAuditEvent(
            type: "airlock.auth.login", subject: "alice",
            data: ["principal": "alice", "issuer": "https://idp.example.com", "mfa": true]), 3002, 1)
        add("login.failed", NewAuditEvent(
            type: "airlock.login.failed", subject: "mallory", severity: .medium,
            data: ["principal": "mallory", "source_ip": "203.0.113.7", "reason": "expired token"]), 3002, 1,
            status: 2)

        add("policy.loaded", NewAuditEvent(
            type: "airlock.policy.loaded", subject: policySetID,
            data: ["policy_set_id": .string(policySetID), "digest": .string(String(repeating: "c3", count: 32)),
                   "directory": "/etc/airlock/policies", "files": ["access.airlock", "break-glass.airlock"],
                   "rules": 12]), 6003, 1)
        add("policy.rejected", NewAuditEvent(
            type: "airlock.policy.rejected", subject: "/etc/airlock/policies", severity: .medium,
            data: ["directory": "/etc/airlock/policies", "errors": 1,
                   "diagnostics": ["access.airlock:3:7: unknown attribute `principal.team`"],
                   "running_policy_set_id": .string(policySetID)]), 6003, 3, status: 2)
        add("token.created", NewAuditEvent(
            type: "airlock.token.created", subject: tokenID, severity: .low,
            data: ["token_id": .string(tokenID), "name": "ci-deployer", "actor": "admin",
                   "scopes": ["service"], "groups": ["deployers"], "expires_at": "2026-12-29T13:26:10.123Z"]),
            6003, 1)
        add("token.revoked", NewAuditEvent(
            type: "airlock.token.revoked", subject: tokenID, severity: .low,
            data: ["token_id": .string(tokenID), "name": "ci-deployer", "actor": "admin"]), 6003, 4)
        add("resource.removed", NewAuditEvent(
            type: "airlock.resource.removed", subject: "legacy-db", severity: .high,
            data: ["resource": "legacy-db", "leases": 2, "allowed_by": "resources.allow_removed"]), 6003, 4)

        add("anomaly.detected", NewAuditEvent(
            type: "airlock.anomaly.detected", subject: "alice", severity: .high, channels: ["#security"],
            data: ["principal": "alice", "resource": "orders-db", "score": 0.93,
                   "title": "alice requested orders-db at an unusual hour", "baseline": "weekday-office-hours"]),
            2004, 1)
        var breakGlass = requestFacts(decision: "allow")
        breakGlass["requested_ttl_seconds"] = 900
        breakGlass["break_glass"] = true
        add("break-glass access.requested", NewAuditEvent(
            type: "airlock.access.requested", subject: requestID, severity: .critical, channels: ["#security"],
            data: breakGlass), 2004, 1)
        add("signal.received", NewAuditEvent(
            type: "airlock.signal.received", subject: "alice", severity: .low,
            data: ["principal": "alice", "signal": "impossible_travel", "source": "idp"]), 2004, 1)

        add("audit.checkpoint (fallback)", NewAuditEvent(
            type: "airlock.audit.checkpoint", subject: "1000",
            data: ["checkpoint": [
                "sequence": 1000, "hash": .string(String(repeating: "9f", count: 32)),
                "time": "2026-12-05T12:00:00.000Z",
                "signatures": [["alg": "ed25519", "key_id": "ed25519:0123456789abcdef", "signature": "AAAA"]],
            ]]),
            6003, 3)
        add("unknown high-severity type (fallback)", NewAuditEvent(
            type: "airlock.reconciler.drift", subject: "orders-db", severity: .high,
            data: ["resource": "orders-db", "unexpected_roles": 3]), 2004, 1)
        return samples
    }()
}
