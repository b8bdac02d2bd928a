import AirlockCore
import AirlockPolicy

/// The explanation of a decision (of a denied request, and of every `POST /v1/decisions` answer), for the
/// requester: every rule, whether it applied, and where not the first condition that failed with the values it
/// saw ("needs `principal.mfa_age <= 15m`; yours: 2h").
enum ExplanationJSON {
    static func make(_ explanation: Explanation) -> JSONValue {
        .array(explanation.rules.map { rule in
            var object: [String: JSONValue] = [
                "rule": .string(rule.rule), "effect": .string(rule.effect.rawValue), "applied": .bool(rule.applied),
            ]
            if let failure = rule.failure {
                let observed = failure.observed.map(\.description).joined(separator: ", ")
                var message = failure.error.map { "error: \($0)" } ?? "needs `\(failure.expression)`"
                if !observed.isEmpty { message += "; yours: \(observed)" }
                object["message"] = .string(message)
                object["line"] = .int(Int64(failure.location.line))
            }
            return .object(object)
        })
    }
}
