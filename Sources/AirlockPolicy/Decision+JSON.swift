extension Decision {
    /// The decision JSON, one line, keys in the fixed order `decision`, `ttl_seconds` (only on permit and
    /// pending), `rules`, `approvals`, `notify`, `errors`:
    ///
    /// ```json
    /// {"decision": "permit", "ttl_seconds": 1800, "rules": ["sre-prod-readonly"], "approvals": [], "notify": [], "errors": []}
    /// ```
    public var json: String {
        var members: [(key: String, value: String)] = [("decision", JSONWriter.string(outcome.rawValue))]
        if outcome != .deny, let ttlSeconds {
            members.append(("ttl_seconds", String(ttlSeconds)))
        }
        members.append(("rules", JSONWriter.array(rules.map(JSONWriter.string))))
        members.append(("approvals", JSONWriter.array(approvals.map { approval in
            JSONWriter.object([
                ("rule", JSONWriter.string(approval.rule)),
                ("requires", JSONWriter.array(approval.requires.map(\.json))),
            ])
        })))
        members.append(("notify", JSONWriter.array(notify.map(JSONWriter.string))))
        members.append(("errors", JSONWriter.array(errors.map { error in
            JSONWriter.object([("rule", JSONWriter.string(error.rule)), ("message", JSONWriter.string(error.message))])
        })))
        return JSONWriter.object(members)
    }
}

extension Decision.Requirement {
    /// `{"group": "db-owners", "count": 2}` or `{"user": "erin", "count": 1}`, with `"services": true` when service
    /// principals count too.
    public var json: String {
        var fields: [(key: String, value: String)] = switch approvers {
        case .group(let group): [("group", JSONWriter.string(group))]
        case .user(let id): [("user", JSONWriter.string(id))]
        }
        fields.append(("count", String(count)))
        if includesServices { fields.append(("services", "true")) }
        return JSONWriter.object(fields)
    }
}
