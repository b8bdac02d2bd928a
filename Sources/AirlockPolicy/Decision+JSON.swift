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
                ("requires", JSONWriter.array(approval.requires.map { requirement in
                    var fields = [
                        ("group", JSONWriter.string(requirement.group)),
                        ("count", String(requirement.count)),
                    ]
                    if requirement.includesServices { fields.append(("services", "true")) }
                    return JSONWriter.object(fields)
                })),
            ])
        })))
        members.append(("notify", JSONWriter.array(notify.map(JSONWriter.string))))
        members.append(("errors", JSONWriter.array(errors.map { error in
            JSONWriter.object([("rule", JSONWriter.string(error.rule)), ("message", JSONWriter.string(error.message))])
        })))
        return JSONWriter.object(members)
    }
}
