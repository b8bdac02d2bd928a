import AirlockCore
import AirlockPolicy
import AirlockProviders
import AirlockStore
import Foundation
import Logging

/// The request flow behind the `/v1/access-requests` routes: build the policy input, decide, record, review,
/// and mint at pickup (intent first). No HTTP types here beyond ``APIError`` for the caller's mistakes.
struct AccessBroker: Sendable {
    let requests: AccessRequestStore
    let leases: LeaseStore
    let catalog: ResourceCatalog
    let policies: LoadedPolicies
    let postgres: PostgresRoleProvider
    let maximumTTLSeconds: Int64
    let clock: any WallClock
    let timeZone: TimeZone
    let logger: Logger

    /// What a caller asks for.
    struct Ask: Sendable {
        var resource: String
        var role: String
        var ttlSeconds: Int64
        var reason: String
        var ticket: String?
        var breakGlass: Bool
        var sourceIP: String?
    }

    /// Checks the ask against the catalog and limits: 422 `unknown_resource`, `unknown_role`, `invalid_ttl`.
    func validate(_ ask: Ask) throws -> Resource {
        guard let resource = catalog[ask.resource] else {
            throw APIError(.unprocessableContent, code: "unknown_resource", message: "no resource `\(Self.shown(ask.resource))`")
        }
        guard resource.roles[ask.role] != nil else {
            let known = resource.roles.keys.sorted().joined(separator: ", ")
            throw APIError(.unprocessableContent, code: "unknown_role",
                           message: "resource `\(resource.id)` has no role `\(Self.shown(ask.role))` (roles: \(known))")
        }
        guard ask.ttlSeconds > 0, ask.ttlSeconds <= maximumTTLSeconds else {
            throw APIError(.unprocessableContent, code: "invalid_ttl",
                           message: "`ttl_seconds` must be between 1 and \(maximumTTLSeconds)")
        }
        return resource
    }

    /// The policy input for `principal` asking `ask` of `resource`, as JSON (stored with the request for replay).
    func evaluationInput(principal: Principal, resource: Resource, ask: Ask) -> JSONValue {
        var who: [String: JSONValue] = [
            "id": .string(principal.id), "kind": .string(principal.kind.rawValue),
            "groups": .array(principal.groups.map { .string($0) }), "on_call": .bool(principal.onCall),
        ]
        if let email = principal.email { who["email"] = .string(email) }
        if let mfa = principal.mfaAgeSeconds { who["mfa_age"] = .int(mfa) }
        var what: [String: JSONValue] = resource.attributes
        what["id"] = .string(resource.id)
        what["kind"] = .string(resource.kind.rawValue)
        what["env"] = .string(resource.env)
        what["owner"] = .string(resource.owner)
        what["sensitivity"] = .int(Int64(resource.sensitivity))
        what["tags"] = .array(resource.tags.map { .string($0) })
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = timeZone
        let now = clock.now()
        let weekdays = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]
        var how: [String: JSONValue] = [
            "role": .string(ask.role), "ttl": .int(ask.ttlSeconds), "reason": .string(ask.reason),
            "break_glass": .bool(ask.breakGlass), "hour": .int(Int64(calendar.component(.hour, from: now))),
            "weekday": .string(weekdays[(calendar.component(.weekday, from: now) + 6) % 7]),
        ]
        if let ticket = ask.ticket { how["ticket"] = .string(ticket) }
        if let ip = ask.sourceIP { how["source_ip"] = .string(ip) }
        return .object(["principal": .object(who), "resource": .object(what), "request": .object(how),
                        "risk": .object(["score": .int(0), "signals": .array([])])])
    }

    /// Decides `input` under the active policy set: the decision, its JSON, the explanation (on deny, or for
    /// every outcome with `explainAlways`) and the set's id.
    func decide(_ input: JSONValue, explainAlways: Bool = false) throws -> (Decision, JSONValue, Explanation?, UUID) {
        let active = policies.active
        let parsed: EvaluationInput
        do {
            parsed = try active.policies.decodeInput(jsonLine: input.canonicalString())
        } catch {
            logger.error("policy input rejected", metadata: ["error": "\(error.message)"])
            throw APIError(.unprocessableContent, code: "validation_failed", message: error.message)
        }
        let decision = active.policies.evaluate(parsed)
        let json = (try? JSONValue.parse(Data(decision.json.utf8))) ?? .null
        let explanation = explainAlways || decision.outcome == .deny ? active.policies.explain(parsed) : nil
        return (decision, json, explanation, active.id)
    }

    /// User input echoed in an error: at most 64 characters, control characters replaced.
    static func shown(_ text: String) -> String {
        String(text.prefix(64).unicodeScalars.map { $0.value < 0x20 ? "?" : Character($0) })
    }
}
