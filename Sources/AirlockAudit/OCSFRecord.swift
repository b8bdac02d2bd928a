import AirlockCore
import Foundation

/// Airlock audit events as OCSF 1.8.0 records, for SIEM sinks.
///
/// ``records(for:productVersion:)`` turns one stored audit event (the CloudEvents 1.0 object, chained or not) into its
/// OCSF records: the event's own record (``record(for:productVersion:)``), then an Account Change record when the event
/// created or dropped a PostgreSQL login (below). For the event's own record the rows below are tried in order; the
/// first that matches decides the class and activity.
///
/// | Event                                                  | OCSF class                  | Activity            |
/// |--------------------------------------------------------|-----------------------------|---------------------|
/// | any type with `data.break_glass == true`               | Detection Finding 2004      | Create 1            |
/// | `airlock.anomaly.detected`, `airlock.signal.received`  | Detection Finding 2004      | Create 1            |
/// | `airlock.credential.issued`, `.issuance_failed`        | User Access Management 3005 | Assign Privileges 1 |
/// | `airlock.credential.revoked`, `.revocation_failed`     | User Access Management 3005 | Revoke Privileges 2 |
/// | `airlock.auth.*`, `airlock.login.*`                    | Authentication 3002         | Logon 1 (a)         |
/// | `airlock.access.*`, `airlock.lease.*`                  | Entity Management 3004      | by verb (b)         |
/// | `airlock.{policy,webhook,token,keys,resource}.*`       | API Activity 6003           | by verb (c)         |
/// | anything else at severity high or critical             | Detection Finding 2004      | Create 1            |
/// | anything else (e.g. `airlock.audit.checkpoint`)        | API Activity 6003           | by verb (c)         |
///
/// The verb is the type's last part (`requested` in `airlock.access.requested`):
/// - (a) Logoff 2 for `logout`, `logoff`, `signed_out`; Logon 1 for any other.
/// - (b) Create 1 for `requested`, `created`; Deactivate 11 for `expired`, `revoked`, `ended`, `closed`,
///   `cancelled`, `canceled`; Update 3 for any other (`approved`, `denied`, `reviewed`, `renewed`...).
/// - (c) Create 1 for `created`, `added`, `loaded`, `registered`, `imported`; Read 2 for `read`, `listed`, `viewed`,
///   `exported`; Delete 4 for `removed`, `deleted`, `revoked`, `dropped`; Update 3 for any other (`activated`,
///   `rejected`, `rotated`, `checkpoint`...).
///
/// A credential row applies only when the event names `data.principal` and `data.role` (User Access Management
/// requires `user` and `privileges`), an authentication row only when it names `data.principal` (Authentication
/// requires `user`); an event without them falls to the rows below, so no required value is ever invented.
///
/// Credential events are in User Access Management whatever the resource kind: Assign/Revoke Privileges with `user`
/// the principal and, for a PostgreSQL credential, `user.account` the login (`type` `PostgreSQL Role`, `type_id`
/// Other). Token credentials carry no account; their token id is in `unmapped.data.token_id`.
///
/// Issuing a PostgreSQL credential also creates a login, and revoking it drops the login, so such an event (one that
/// names `data.username`) gives a second record, in Account Change 3001 with `user` the login
/// (``OCSFAccountChange``):
///
/// | Event                                              | Activity   | Status  |
/// |----------------------------------------------------|------------|---------|
/// | `airlock.credential.issued` with `data.username`   | Create 1   | Success |
/// | `airlock.credential.revoked` with `data.username`  | Delete 6   | Success |
/// | `airlock.credential.revocation_failed` with one    | Delete 6   | Failure |
///
/// An expired lease's credential is revoked with `airlock.credential.revoked` (its `reason` `expired`), so expiry
/// drops the login like any revocation. A second record's `metadata.uid` is the event id followed by `:3001`, so every
/// record of a sink has its own uid; `metadata.original_event_uid` is the event id in both. (OCSF 1.9.0 deprecates
/// both 3001 and 3005 for User Management; this is 1.8.0.)
///
/// Every record carries the base event's required attributes (`activity_id`, `category_uid`, `class_uid`,
/// `metadata` with `product` and `version`, `severity_id`, `time` in epoch milliseconds, `type_uid` = `class_uid`
/// × 100 + `activity_id`) and the required attributes of its class, plus:
///
/// - `message`: the event in words (type, principal, resource, role, login, who acted), never a secret;
/// - `status_id`: Success 1, or Failure 2 for a verb `failed`, `rejected` or ending `_failed` (and `denied` for
///   authentication); a denied access request is a successful update of the request (the decision is in
///   `entity.data.decision` and the message). Detection Findings carry the finding status New 1 instead;
/// - `actor.user` for whoever acted (`data.actor`, else `data.reviewer`, else the principal of a `requested`
///   event), else `actor.app_name` `Airlock` (the broker acted); `user` for the principal where the class has it;
///   Detection Findings, which have no actor, name the principal in `evidences[].actor.user`;
/// - `metadata.uid` (the event id; `:3001` appended on an Account Change record) and `metadata.original_event_uid`
///   (the event id), `metadata.event_code` (the type),
///   `metadata.original_time` (the RFC 3339 time), `metadata.sequence` (the chain position, once chained),
///   `metadata.correlation_uid` (`data.request_id`, linking a request's events);
/// - `unmapped`: the CloudEvent as given, member for member (`data`, `subject`, `sequence`, `prevhash`, `hash`...),
///   so nothing is lost and a SIEM can recompute the chain hash from the record alone.
///
/// Endpoints: Airlock events carry no client address, so `src_endpoint` is `data.source_ip` when an event has one
/// and otherwise the broker that recorded the event (`svc_name` `airlock`, `uid` the CloudEvents `source`), which
/// is also the `dst_endpoint` of API Activity and Authentication.
public enum OCSFRecord {
    /// The OCSF schema version every record declares in `metadata.version`.
    public static let schemaVersion = "1.8.0"

    /// Every OCSF record of `event`, the event's own first (``record(for:productVersion:)``), then its Account Change
    /// record when it created or dropped a PostgreSQL login.
    ///
    /// - Parameters:
    ///   - event: A stored audit event, as ``record(for:productVersion:)`` takes it.
    ///   - productVersion: Airlock's version, e.g. `0.9.0`.
    /// - Returns: One or two OCSF 1.8.0 records, objects.
    /// - Throws: ``AuditError`` with code `invalid_event`, as ``record(for:productVersion:)``.
    public static func records(for event: JSONValue, productVersion: String) throws -> [JSONValue] {
        let event = try StoredAuditEvent(event)
        var records = [record(event, productVersion: productVersion)]
        if let change = OCSFAccountChange(event) {
            records.append(accountChangeRecord(event, change, productVersion: productVersion))
        }
        return records
    }

    /// The OCSF record for `event`; `productVersion` names Airlock's version
    /// (`metadata.product` = `{name: "Airlock", vendor_name: "Airlock", version}`).
    ///
    /// - Parameters:
    ///   - event: A stored audit event: a CloudEvents 1.0 object with `specversion`, `id`, `source`, `type`, `time`
    ///     and `data` (with `severity`), and `sequence`, `prevhash`, `hash` once chained.
    ///   - productVersion: Airlock's version, e.g. `0.9.0`.
    /// - Returns: The OCSF 1.8.0 record, an object.
    /// - Throws: ``AuditError`` with code `invalid_event` when `event` lacks one of the attributes above or has one
    ///   malformed (a `time` that is not RFC 3339, a severity Airlock does not write).
    public static func record(for event: JSONValue, productVersion: String) throws -> JSONValue {
        record(try StoredAuditEvent(event), productVersion: productVersion)
    }

    /// The event's own record (the table above).
    static func record(_ event: StoredAuditEvent, productVersion: String) -> JSONValue {
        let classification = OCSFClassification(event)
        let eventClass = classification.eventClass
        let message = Self.message(event)
        var record = base(
            event, eventClass, classification.activity, message: message, productVersion: productVersion)
        if classification.finding == nil { record.merge(status(event, failed: classification.failed)) { $1 } }
        let attributes: [String: JSONValue] = switch eventClass {
        case .userAccessManagement: userAccessAttributes(event)
        case .authentication: authenticationAttributes(event)
        case .entityManagement: entityAttributes(event)
        case .apiActivity: apiAttributes(event)
        case .detectionFinding: findingAttributes(event, kind: classification.finding, message: message)
        case .accountChange: [:]  // never an event's own class: see ``accountChangeRecord(_:_:productVersion:)``
        }
        record.merge(attributes) { _, classSpecific in classSpecific }
        return .object(record)
    }

    /// What every record carries: class, category, activity and type (uids and captions), severity, time, message,
    /// `metadata` (its `uid` the event id followed by `uidSuffix`) and the CloudEvent as `unmapped`.
    static func base(
        _ event: StoredAuditEvent, _ eventClass: OCSFClass, _ activity: OCSFActivity, message: String,
        productVersion: String, uidSuffix: String = ""
    ) -> [String: JSONValue] {
        var metadata = metadata(event, productVersion: productVersion)
        if !uidSuffix.isEmpty { metadata["uid"] = .string(event.id + uidSuffix) }
        return [
            "class_uid": .int(Int64(eventClass.rawValue)),
            "class_name": .string(eventClass.caption),
            "category_uid": .int(Int64(eventClass.categoryUID)),
            "category_name": .string(eventClass.categoryCaption),
            "activity_id": .int(Int64(activity.id)),
            "activity_name": .string(activity.caption),
            "type_uid": .int(Int64(eventClass.rawValue * 100 + activity.id)),
            "type_name": .string("\(eventClass.caption): \(activity.caption)"),
            "severity_id": .int(Int64(event.severity.ocsfID)),
            "severity": .string(event.severity.ocsfCaption),
            "time": .int(event.epochMilliseconds),
            "timezone_offset": 0,
            "message": .string(message),
            "metadata": .object(metadata),
            "unmapped": .object(event.cloudEvent),
        ]
    }

    /// `status_id` and `status` (Success 1 or Failure 2), with `data.error` as `status_detail` on failure.
    static func status(_ event: StoredAuditEvent, failed: Bool) -> [String: JSONValue] {
        var status: [String: JSONValue] = ["status_id": failed ? 2 : 1, "status": failed ? "Failure" : "Success"]
        if failed, let error = event.text("error") { status["status_detail"] = .string(error) }
        return status
    }

    /// `metadata`: the schema version, the product, and where the event came from.
    private static func metadata(_ event: StoredAuditEvent, productVersion: String) -> [String: JSONValue] {
        var metadata: [String: JSONValue] = [
            "version": .string(schemaVersion),
            "product": ["name": "Airlock", "vendor_name": "Airlock", "version": .string(productVersion)],
            "uid": .string(event.id),
            "original_event_uid": .string(event.id),
            "event_code": .string(event.type),
            "original_time": .string(event.timeText),
        ]
        if let sequence = event.sequence { metadata["sequence"] = .int(sequence) }
        if let request = event.text("request_id") { metadata["correlation_uid"] = .string(request) }
        return metadata
    }

    /// `credential issued: principal alice, resource orders-db, role readonly, login ...`: the type's area and verb,
    /// then the names the event carries (ids and names only: Airlock events hold no secret to leak).
    static func message(_ event: StoredAuditEvent) -> String {
        let head = event.family.isEmpty
            ? event.type : "\(event.family) \(event.verb.replacingOccurrences(of: "_", with: " "))"
        var parts: [String] = []
        for (label, key) in [("principal", "principal"), ("resource", "resource"), ("role", "role"),
                             ("login", "username"), ("by", "actor"), ("reviewer", "reviewer")] {
            if let value = event.text(key) { parts.append("\(label) \(value)") }
        }
        if parts.isEmpty, let subject = event.subject { parts.append("subject \(subject)") }
        return parts.isEmpty ? head : "\(head): \(parts.joined(separator: ", "))"
    }
}
