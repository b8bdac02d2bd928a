import AirlockCore
import Foundation

/// Airlock audit events as OCSF 1.8.0 records, for SIEM sinks.
///
/// ``record(for:productVersion:)`` turns one stored audit event (the CloudEvents 1.0 object, chained or not) into one
/// OCSF record. The rows below are tried in order; the first that matches decides the class and activity.
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
/// Credential events are one record each, in User Access Management whatever the resource kind. Issuing a
/// PostgreSQL credential creates a login and grants it the role's group role in one step, and revoking it drops the
/// login; the grant is the fact a SIEM acts on, so the record is Assign/Revoke Privileges with `user` the principal
/// and `user.account` the login (`type` `PostgreSQL Role`, `type_id` Other). Account Change 3001 is not emitted: a
/// query for PostgreSQL logins created or dropped by Airlock is `class_uid = 3005 AND user.account.type =
/// 'PostgreSQL Role'` with activity 1 (created) or 2 (dropped). Token credentials carry no account; their token id
/// is in `unmapped.data.token_id`. (OCSF 1.9.0 deprecates both 3001 and 3005 for User Management; this is 1.8.0.)
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
/// - `metadata.uid` and `metadata.original_event_uid` (the event id), `metadata.event_code` (the type),
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
        let event = try StoredAuditEvent(event)
        let classification = OCSFClassification(event)
        let eventClass = classification.eventClass, activity = classification.activity
        let message = Self.message(event)
        var record: [String: JSONValue] = [
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
            "metadata": metadata(event, productVersion: productVersion),
            "unmapped": .object(event.cloudEvent),
        ]
        if classification.finding == nil {
            record["status_id"] = classification.failed ? 2 : 1
            record["status"] = classification.failed ? "Failure" : "Success"
            if classification.failed, let error = event.text("error") { record["status_detail"] = .string(error) }
        }
        let attributes: [String: JSONValue] = switch eventClass {
        case .userAccessManagement: userAccessAttributes(event)
        case .authentication: authenticationAttributes(event)
        case .entityManagement: entityAttributes(event)
        case .apiActivity: apiAttributes(event)
        case .detectionFinding: findingAttributes(event, kind: classification.finding, message: message)
        }
        record.merge(attributes) { _, classSpecific in classSpecific }
        return .object(record)
    }

    /// `metadata`: the schema version, the product, and where the event came from.
    private static func metadata(_ event: StoredAuditEvent, productVersion: String) -> JSONValue {
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
        return .object(metadata)
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
