import AirlockCore

/// The class-specific attributes of each OCSF class Airlock emits, and the objects they are built from.
extension OCSFRecord {
    /// User Access Management: `user` (the principal, with the PostgreSQL login as `user.account`), `privileges`
    /// (the role), the resource, and the actor.
    static func userAccessAttributes(_ event: StoredAuditEvent) -> [String: JSONValue] {
        var attributes: [String: JSONValue] = ["actor": actor(event)]
        if let principal = event.principal {
            var user = user(principal)
            if let login = event.text("username") {
                user["account"] = ["name": .string(login), "type": "PostgreSQL Role", "type_id": 99]
            }
            attributes["user"] = .object(user)
        }
        if let role = event.text("role") { attributes["privileges"] = [.string(role)] }
        if let resources = resources(event) { attributes["resources"] = resources }
        if let source = sourceAddress(event) { attributes["src_endpoint"] = source }
        return attributes
    }

    /// Authentication: `user` (the principal) signing in to the broker (`dst_endpoint`), and `is_mfa` when the event
    /// says.
    static func authenticationAttributes(_ event: StoredAuditEvent) -> [String: JSONValue] {
        var attributes: [String: JSONValue] = ["dst_endpoint": broker(event)]
        if let principal = event.principal { attributes["user"] = .object(user(principal)) }
        if let mfa = event.data["mfa"]?.boolValue { attributes["is_mfa"] = .bool(mfa) }
        if let source = sourceAddress(event) { attributes["src_endpoint"] = source }
        return attributes
    }

    /// Entity Management: the request or lease as `entity` (type Other, named `Access Request` or `Lease`, with its
    /// principal, resource and role), the actor, and `comment` from `data.reason`.
    static func entityAttributes(_ event: StoredAuditEvent) -> [String: JSONValue] {
        let kind = event.family == "lease" ? "Lease" : "Access Request"
        var entity: [String: JSONValue] = ["type": .string(kind), "type_id": 99]
        if let uid = event.subject ?? event.text(event.family == "lease" ? "lease_id" : "request_id") {
            entity["uid"] = .string(uid)
        } else {
            entity["name"] = .string(kind)
        }
        var content: [String: JSONValue] = [:]
        for key in ["principal", "resource", "role", "request_id", "lease_id", "decision", "expires_at"] {
            if let value = event.text(key) { content[key] = .string(value) }
        }
        if !content.isEmpty { entity["data"] = .object(content) }
        var attributes: [String: JSONValue] = ["entity": .object(entity), "actor": actor(event)]
        if let reason = event.text("reason") { attributes["comment"] = .string(reason) }
        if let source = sourceAddress(event) { attributes["src_endpoint"] = source }
        return attributes
    }

    /// API Activity: the actor, the operation (the event type), where it came from and went, and the object changed
    /// (the event's subject, typed by the type's area: `policy`, `token`, `webhook`, `keys`, `resource`...).
    static func apiAttributes(_ event: StoredAuditEvent) -> [String: JSONValue] {
        var attributes: [String: JSONValue] = [
            "actor": actor(event),
            "api": ["operation": .string(event.type)],
            "src_endpoint": sourceAddress(event) ?? broker(event),
            "dst_endpoint": broker(event),
        ]
        if let subject = event.subject {
            var changed: [String: JSONValue] = ["uid": .string(subject)]
            if !event.family.isEmpty { changed["type"] = .string(event.family) }
            if let name = event.text("name") { changed["name"] = .string(name) }
            attributes["resources"] = [.object(changed)]
        }
        return attributes
    }

    /// Detection Finding: `finding_info` (the event id, a title, its types), whether it is an alert, the principal
    /// as evidence and the resource as affected.
    ///
    /// A break-glass request is always an alert; anything else is one at severity medium or above.
    static func findingAttributes(
        _ event: StoredAuditEvent, kind: FindingKind?, message: String
    ) -> [String: JSONValue] {
        let title: String, types: [JSONValue]
        switch kind {
        case .breakGlass?: (title, types) = ("break-glass \(message)", ["Break Glass"])
        case .anomaly?: (title, types) = (event.text("title") ?? message, ["Anomaly"])
        case .riskSignal?: (title, types) = (event.text("title") ?? message, ["Risk Signal"])
        case .unmappedHighSeverity?, nil: (title, types) = (event.text("title") ?? message, [])
        }
        var info: [String: JSONValue] = [
            "uid": .string(event.id), "title": .string(title), "desc": .string(message),
            "created_time": .int(event.epochMilliseconds),
        ]
        if !types.isEmpty { info["types"] = .array(types) }
        var attributes: [String: JSONValue] = [
            "finding_info": .object(info),
            "is_alert": .bool(kind == .breakGlass || event.severity >= .medium),
            "status_id": 1,
            "status": "New",
        ]
        if let principal = event.principal {
            attributes["evidences"] = [["actor": ["user": .object(user(principal))]]]
        }
        if let resources = resources(event) { attributes["resources"] = resources }
        return attributes
    }

    /// A principal as an OCSF `user`: Airlock has one identifier for it (the token's `sub`, `ISSUER#sub` or
    /// `token:<name>`), which is both `uid` and `name`.
    static func user(_ principal: String) -> [String: JSONValue] {
        ["uid": .string(principal), "name": .string(principal)]
    }

    /// Who acted: `data.actor`, else `data.reviewer`, else the principal of a `requested` event (who asked); when
    /// none is named, the broker itself (`app_name` `Airlock`, `app_uid` the CloudEvents `source`).
    static func actor(_ event: StoredAuditEvent) -> JSONValue {
        let named = event.text("actor") ?? event.text("reviewer") ?? (event.verb == "requested" ? event.principal : nil)
        if let named { return ["user": .object(user(named))] }
        return ["app_name": "Airlock", "app_uid": .string(event.source)]
    }

    /// The broker that recorded the event, as a network endpoint.
    static func broker(_ event: StoredAuditEvent) -> JSONValue {
        ["svc_name": "airlock", "uid": .string(event.source)]
    }

    /// `data.source_ip` as a network endpoint, when the event carries one.
    static func sourceAddress(_ event: StoredAuditEvent) -> JSONValue? {
        event.text("source_ip").map { ["ip": .string($0)] }
    }

    /// `data.resource` (an Airlock resource id such as `orders-db`) as OCSF `resources`.
    static func resources(_ event: StoredAuditEvent) -> JSONValue? {
        event.text("resource").map { [["uid": .string($0), "name": .string($0)]] }
    }
}
