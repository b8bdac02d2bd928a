import AirlockPolicy

/// The policy's ``Decision`` as `access_requests.decision` stores it and the API shows it: the decision object of
/// POLICY-LANGUAGE.md as a typed JSON value. One conversion each way, at the storage boundary; nothing on the
/// request path writes the decision as text to read it back.
extension Decision {
    /// The decision object: `{"decision", "ttl_seconds" (not on deny), "rules", "approvals", "notify", "errors"}`.
    public var stored: JSONValue {
        var object: [String: JSONValue] = [
            "decision": .string(outcome.rawValue),
            "rules": .array(rules.map { .string($0) }),
            "approvals": .array(approvals.map { approval in
                .object([
                    "rule": .string(approval.rule),
                    "requires": .array(approval.requires.map(\.stored)),
                ])
            }),
            "notify": .array(notify.map { .string($0) }),
            "errors": .array(errors.map { .object(["rule": .string($0.rule), "message": .string($0.message)]) }),
        ]
        if outcome != .deny, let ttlSeconds { object["ttl_seconds"] = .int(ttlSeconds) }
        return .object(object)
    }

    /// Reads a stored decision object back (`access_requests.decision`).
    public init(stored json: JSONValue) throws(AccessRequestError) {
        func fail(_ what: String) -> AccessRequestError {
            AccessRequestError(.invalidTransition, "malformed stored decision: \(what)")
        }
        guard case .object(let object) = json,
              case .string(let outcomeText) = object["decision"], let outcome = Outcome(rawValue: outcomeText)
        else { throw fail("`decision`") }
        func strings(_ key: String) throws(AccessRequestError) -> [String] {
            guard let value = object[key] else { return [] }
            guard case .array(let items) = value else { throw fail("`\(key)`") }
            var result: [String] = []
            for item in items {
                guard case .string(let text) = item else { throw fail("`\(key)`") }
                result.append(text)
            }
            return result
        }
        var ttl: Int64?
        if case .int(let seconds) = object["ttl_seconds"] { ttl = seconds }
        var approvals: [ApprovalRule] = []
        if case .array(let items) = object["approvals"] {
            for item in items {
                guard case .object(let rule) = item, case .string(let id) = rule["rule"],
                      case .array(let requires) = rule["requires"] else { throw fail("`approvals`") }
                var requirements: [ApprovalRequirement] = []
                for requirement in requires {
                    guard case .object(let fields) = requirement, case .int(let count) = fields["count"]
                    else { throw fail("`approvals`") }
                    let approvers: ApprovalRequirement.Approvers
                    switch (fields["group"], fields["user"]) {
                    case (.string(let group)?, nil): approvers = .group(group)
                    case (nil, .string(let user)?) where count == 1: approvers = .user(user)
                    default: throw fail("`approvals`")
                    }
                    // Absent (every decision stored before `including services` existed): people only.
                    var includesServices = false
                    switch fields["services"] {
                    case nil, .null?: break
                    case .bool(let value)?: includesServices = value
                    default: throw fail("`approvals`")
                    }
                    requirements.append(ApprovalRequirement(approvers, count: Int(count), includesServices: includesServices))
                }
                approvals.append(ApprovalRule(rule: id, requires: requirements))
            }
        }
        var errors: [Decision.RuleError] = []
        if case .array(let items) = object["errors"] {
            for item in items {
                guard case .object(let fields) = item, case .string(let rule) = fields["rule"],
                      case .string(let message) = fields["message"] else { throw fail("`errors`") }
                errors.append(Decision.RuleError(rule: rule, message: message))
            }
        }
        self.init(
            outcome: outcome, ttlSeconds: ttl, rules: try strings("rules"), approvals: approvals,
            notify: try strings("notify"), errors: errors)
    }
}

extension Decision.Requirement {
    /// `{"group": "db-owners", "count": 2}` or `{"user": "erin", "count": 1}`, with `"services": true` when service
    /// principals count too.
    public var stored: JSONValue {
        var fields: [String: JSONValue] = ["count": .int(Int64(count))]
        switch approvers {
        case .group(let group): fields["group"] = .string(group)
        case .user(let id): fields["user"] = .string(id)
        }
        if includesServices { fields["services"] = .bool(true) }
        return .object(fields)
    }
}
