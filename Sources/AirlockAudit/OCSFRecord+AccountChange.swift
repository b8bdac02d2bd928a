import AirlockCore

/// A PostgreSQL login that an audit event created or dropped: the Account Change 3001 record it adds (see
/// ``OCSFRecord``).
///
/// Only `issued`, `revoked` and `revocation_failed` credential events that name the login (`data.username`) apply: a
/// token credential has no login. `airlock.credential.issuance_failed` gives none, even when it names a login the
/// failed issuance left behind: that login is dropped by the revocation that follows, whose
/// `airlock.credential.revoked` gives the Delete.
struct OCSFAccountChange: Sendable, Equatable {
    /// The login's name, `data.username`.
    let login: String
    /// Create 1 or Delete 6.
    let activity: OCSFActivity
    /// A drop that failed (`airlock.credential.revocation_failed`): `status_id` Failure.
    let failed: Bool

    /// The account change `event` reports, or nil when it reports none.
    init?(_ event: StoredAuditEvent) {
        guard event.family == "credential", let login = event.text("username") else { return nil }
        switch event.verb {
        case "issued": (activity, failed) = (.create, false)
        case "revoked": (activity, failed) = (.deleteAccount, false)
        case "revocation_failed": (activity, failed) = (.deleteAccount, true)
        default: return nil
        }
        self.login = login
    }
}

extension OCSFRecord {
    /// The Account Change record of `change`: `user` the login (its `domain` the resource, its `account` the
    /// PostgreSQL role), the actor, the status, and the event's common attributes with `metadata.uid` suffixed
    /// `:3001`.
    static func accountChangeRecord(
        _ event: StoredAuditEvent, _ change: OCSFAccountChange, productVersion: String
    ) -> JSONValue {
        var record = base(
            event, .accountChange, change.activity, message: accountChangeMessage(event, change),
            productVersion: productVersion, uidSuffix: ":\(OCSFClass.accountChange.rawValue)")
        record.merge(status(event, failed: change.failed)) { $1 }
        var user: [String: JSONValue] = [
            "name": .string(change.login), "type": "User", "type_id": 1,
            "account": ["name": .string(change.login), "type": "PostgreSQL Role", "type_id": 99],
        ]
        if let resource = event.text("resource") { user["domain"] = .string(resource) }
        record["user"] = .object(user)
        record["actor"] = accountActor(event, change)
        if let source = sourceAddress(event) { record["src_endpoint"] = source }
        return .object(record)
    }

    /// Who changed the account: whoever the event names as acting (an admin's revocation); for a login created at
    /// pickup, the broker in the context of the principal who picked it up; else the broker alone (expiry).
    static func accountActor(_ event: StoredAuditEvent, _ change: OCSFAccountChange) -> JSONValue {
        if event.text("actor") == nil, change.activity == .create, let principal = event.principal {
            return ["user": .object(user(principal)), "app_name": "Airlock", "app_uid": .string(event.source)]
        }
        return actor(event)
    }

    /// `postgresql login created: login ..., resource orders-db, principal alice`, `... dropped`, `... drop failed`.
    static func accountChangeMessage(_ event: StoredAuditEvent, _ change: OCSFAccountChange) -> String {
        let what = change.activity == .create ? "created" : change.failed ? "drop failed" : "dropped"
        var parts = ["login \(change.login)"]
        for (label, key) in [("resource", "resource"), ("principal", "principal"), ("by", "actor")] {
            if let value = event.text(key) { parts.append("\(label) \(value)") }
        }
        return "postgresql login \(what): \(parts.joined(separator: ", "))"
    }
}
