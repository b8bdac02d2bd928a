import Foundation

/// Airlock as a Shared Signals transmitter: which audit events become which Security Event Tokens, and the SETs
/// themselves. A SET's `jti` comes from its audit event's id and its part, so a retried delivery carries the same
/// `jti` (a receiver that saw it refuses it as a replay, and nothing is counted twice); `iat` is when it is sent, so a
/// stream that was paused for a day is not refused as too old; `event_timestamp` says when the change happened.
public struct SharedSignalsTransmitter: Sendable {
    /// The transmitter's issuer: the `iss` of every SET, and the base of its endpoints' URLs.
    public let issuer: String
    /// The key SETs are signed with.
    public let signer: SecurityEventSigner
    /// The primary human issuer of logins: its subjects are principal ids as they are (``subject(of:)``).
    public let primaryIssuer: String?

    public init(issuer: String, signer: SecurityEventSigner, primaryIssuer: String?) {
        self.issuer = issuer
        self.signer = signer
        self.primaryIssuer = primaryIssuer
    }

    /// The audit event types that become SETs, the part each one is, and the event type it becomes. The same table
    /// as `airlock_ssf_parts` of migration 0021, which queues the deliveries (a test holds the two equal).
    public static let parts: [(auditType: String, part: Int, event: SharedSignalEvent)] = [
        ("airlock.credential.issued", 0, .credentialChange),
        ("airlock.credential.revoked", 0, .sessionRevoked),
        ("airlock.credential.revoked", 1, .credentialChange),
        ("airlock.risk.level_changed", 0, .riskLevelChange),
        ("airlock.ssf.stream.verification", 0, .verification),
        ("airlock.ssf.stream.updated", 0, .streamUpdated),
    ]

    /// The event types a stream may ask for (`events_supported`).
    public static let supportedEvents: [SharedSignalEvent] = [
        .sessionRevoked, .credentialChange, .riskLevelChange, .verification, .streamUpdated,
    ]

    /// The unsigned claims of the SET that part `part` of `auditEvent` (a CloudEvent as stored) becomes for a stream
    /// with `audience`; nil when that part is not one (the table above).
    public func claims(of auditEvent: JSONValue, part: Int, audience: [String], issuedAt: Date) -> JSONValue? {
        guard let type = auditEvent["type"]?.stringValue, let id = auditEvent["id"]?.stringValue,
              let event = Self.parts.first(where: { $0.auditType == type && $0.part == part })?.event
        else { return nil }
        let data = auditEvent["data"] ?? .object([:])
        let time = auditEvent["time"]?.stringValue.flatMap(AuditTime.parse) ?? Date(timeIntervalSince1970: 0)
        let seconds = Int64(time.timeIntervalSince1970.rounded(.down))
        var payload: [String: JSONValue] = [:]
        let subject: JSONValue
        switch event {
        case .verification, .streamUpdated:
            // SSF 1.0 §8.1.4: the stream itself is the subject of its own events.
            subject = ["format": "opaque", "id": data["stream_id"] ?? ""]
            if event == .verification {
                if let state = data["state"], !state.isNull { payload["state"] = state }
            } else {
                payload["status"] = data["status"] ?? "enabled"
                if let reason = data["reason"], !reason.isNull { payload["reason"] = reason }
            }
        default:
            guard let principal = data["principal"]?.stringValue else { return nil }
            subject = Self.subject(of: principal, primaryIssuer: primaryIssuer)
            payload["event_timestamp"] = .int(seconds)
            switch event {
            case .sessionRevoked:
                payload["initiating_entity"] = .string(Self.initiatingEntity(data))
                payload["reason_admin"] = ["en": .string(Self.reason(data))]
            case .credentialChange:
                payload["credential_type"] = data["username"] != nil ? "password" : "app"
                payload["change_type"] = type == "airlock.credential.issued" ? "create" : "revoke"
                let resource = data["resource"]?.stringValue ?? "?"
                let role = data["role"]?.stringValue ?? "?"
                payload["friendly_name"] = .string(
                    "\(resource) \(role), lease \(data["lease_id"]?.stringValue ?? auditEvent["subject"]?.stringValue ?? "?")")
                payload["initiating_entity"] = .string(
                    type == "airlock.credential.issued" ? "user" : Self.initiatingEntity(data))
                if type != "airlock.credential.issued" { payload["reason_admin"] = ["en": .string(Self.reason(data))] }
            case .riskLevelChange:
                payload["principal"] = "USER"
                payload["current_level"] = data["current_level"] ?? "LOW"
                if let previous = data["previous_level"], !previous.isNull { payload["previous_level"] = previous }
                if let reason = data["reason"], !reason.isNull { payload["risk_reason"] = reason }
            default:
                return nil
            }
        }
        return .object([
            "iss": .string(issuer), "aud": audience.count == 1 ? .string(audience[0]) : .array(audience.map { .string($0) }),
            "iat": .int(Int64(issuedAt.timeIntervalSince1970.rounded(.down))), "jti": .string(Self.jti(eventID: id, part: part)), "txn": .string(id),
            "sub_id": subject, "events": .object([event.rawValue: .object(payload)]),
        ])
    }

    /// The SET of part `part` of `auditEvent`, issued at `issuedAt` and signed; nil when that part is not one.
    public func token(of auditEvent: JSONValue, part: Int, audience: [String], issuedAt: Date) throws -> String? {
        guard let claims = claims(of: auditEvent, part: part, audience: audience, issuedAt: issuedAt) else { return nil }
        return try signer.sign(claims)
    }

    /// The `jti` of a part of an event: the event's id, and `-N` for the part N after the first.
    public static func jti(eventID: String, part: Int) -> String {
        part == 0 ? eventID.lowercased() : "\(eventID.lowercased())-\(part)"
    }

    /// The event id and part a `jti` of ``jti(eventID:part:)`` names.
    public static func delivery(ofJTI jti: String) -> (eventID: UUID, part: Int)? {
        if let id = UUID(uuidString: jti) { return (id, 0) }
        guard jti.count > 37, let id = UUID(uuidString: String(jti.prefix(36))), jti.dropFirst(36).first == "-",
              let part = Int(jti.dropFirst(37)), (1...9).contains(part)
        else { return nil }
        return (id, part)
    }

    /// The `sub_id` (RFC 9493) of a principal: `iss_sub` with the primary issuer for a bare id, with its issuer for
    /// `ISSUER#sub`; `opaque` for anything else (an `alk_` token's `token:…`).
    public static func subject(of principal: String, primaryIssuer: String?) -> JSONValue {
        if principal.hasPrefix("token:") { return ["format": "opaque", "id": .string(principal)] }
        if let separator = principal.lastIndex(of: "#") {
            return ["format": "iss_sub", "iss": .string(String(principal[..<separator])),
                    "sub": .string(String(principal[principal.index(after: separator)...]))]
        }
        guard let primaryIssuer else { return ["format": "opaque", "id": .string(principal)] }
        return ["format": "iss_sub", "iss": .string(primaryIssuer), "sub": .string(principal)]
    }

    /// CAEP's `initiating_entity` of a revocation: `system` at expiry, `policy` for continuous evaluation, `user`
    /// when the holder revoked it, `admin` otherwise (an admin, the kill switch).
    static func initiatingEntity(_ data: JSONValue) -> String {
        let reason = data["reason"]?.stringValue ?? ""
        if reason == "expired" { return "system" }
        if reason.hasPrefix("continuous evaluation") { return "policy" }
        if let actor = data["actor"]?.stringValue, actor == data["principal"]?.stringValue { return "user" }
        return "admin"
    }

    /// The revocation's reason in words.
    static func reason(_ data: JSONValue) -> String {
        let reason = data["reason"]?.stringValue ?? "revoked"
        return reason == "expired" ? "the lease expired" : reason
    }
}
