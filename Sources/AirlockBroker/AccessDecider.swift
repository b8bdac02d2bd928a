import AirlockCore
import AirlockPolicy
import Foundation
import Logging

/// The attributes one decision is made from, as typed values by entity (`principal`, `resource`, `request`,
/// `risk`). The policy reads them without any text in between; ``stored`` is the same document as JSON, kept with
/// the request so replay decides on exactly what this decision saw.
public struct AccessInput: Sendable, Hashable {
    public var principal: [String: JSONValue]
    public var resource: [String: JSONValue]
    public var request: [String: JSONValue]
    public var risk: [String: JSONValue]
    /// The risk assessment behind `risk`, with each signal's weight and why it fired (for answers and the record).
    public var assessment: RiskAssessment = .none

    /// The stored form: `{"principal": {...}, "resource": {...}, "request": {...}, "risk": {...}}`.
    public var stored: JSONValue {
        .object(["principal": .object(principal), "resource": .object(resource), "request": .object(request),
                 "risk": .object(risk)])
    }

    /// The document the policy module decodes against its schema.
    var document: JSONInput {
        .object([("principal", Self.input(principal)), ("resource", Self.input(resource)),
                 ("request", Self.input(request)), ("risk", Self.input(risk))])
    }

    private static func input(_ object: [String: JSONValue]) -> JSONInput {
        .object(object.map { ($0.key, input($0.value)) })
    }

    private static func input(_ value: JSONValue) -> JSONInput {
        switch value {
        case .null: .null
        case .bool(let flag): .bool(flag)
        case .int(let number): .integer(number)
        case .double(let number): .number(String(number))
        case .string(let text): .string(text)
        case .array(let items): .array(items.map(input))
        case .object(let members): .object(members.map { ($0.key, input($0.value)) })
        }
    }
}

/// A decision under the active policy set.
public struct DecidedAsk: Sendable {
    public var decision: Decision
    /// Why (on deny, or always when asked for).
    public var explanation: Explanation?
    /// The policy set it was made under.
    public var policySetID: UUID
    /// The risk assessment the policy read.
    public var risk: RiskAssessment = .none
}

/// Asking and deciding: checks an ask against the catalog and limits, builds the policy input (with the risk
/// assessment), and decides it under the active policy set. Records nothing.
public struct AccessDecider: Sendable {
    public let catalog: ResourceCatalog
    public let policies: LoadedPolicies
    public let maximumTTLSeconds: Int64
    public let risk: any RiskAssessor
    public let clock: any WallClock
    public let timeZone: TimeZone
    let logger: Logger

    public init(
        catalog: ResourceCatalog, policies: LoadedPolicies, maximumTTLSeconds: Int64,
        risk: any RiskAssessor = NoRiskSignals(), clock: any WallClock, timeZone: TimeZone, logger: Logger
    ) {
        self.catalog = catalog
        self.policies = policies
        self.maximumTTLSeconds = maximumTTLSeconds
        self.risk = risk
        self.clock = clock
        self.timeZone = timeZone
        self.logger = logger
    }

    /// The resource asked for, once the ask fits the catalog and the TTL limit.
    public func validate(_ ask: Ask) throws(BrokerError) -> Resource {
        guard let resource = catalog[ask.resource] else { throw .unknownResource(ask.resource) }
        guard resource.roles[ask.role] != nil else {
            throw .unknownRole(resource: resource.id, role: ask.role, known: resource.roles.keys.sorted())
        }
        try checkTTL(ask.ttlSeconds)
        if let problem = FreeText.problem(in: ask.reason, field: "reason", multiline: true)
            ?? ask.ticket.flatMap({ FreeText.problem(in: $0, field: "ticket", multiline: false) }) {
            throw .invalidInput(problem)
        }
        return resource
    }

    /// Whether `seconds` is a TTL this broker grants at all.
    public func checkTTL(_ seconds: Int64) throws(BrokerError) {
        guard seconds > 0, seconds <= maximumTTLSeconds else { throw .invalidTTL(maximum: maximumTTLSeconds) }
    }

    /// The policy input for `principal` asking `ask` of `resource` now. Without `ttl`, the policy grants its cap
    /// (renewals ask this way).
    public func input(principal: Principal, resource: Resource, ask: Ask, includingTTL: Bool = true) async -> AccessInput {
        var input = attributes(principal: principal, resource: resource, ask: ask, includingTTL: includingTTL)
        let assessment = await risk.assess(principal: principal, resource: resource, ask: ask)
        input.risk = ["score": .int(assessment.score), "signals": .array(assessment.names.map { .string($0) })]
        input.assessment = assessment
        return input
    }

    /// The principal, resource and request attributes of ``input(principal:resource:ask:includingTTL:)``, at risk
    /// score 0 without signals (no risk is assessed).
    func attributes(principal: Principal, resource: Resource, ask: Ask, includingTTL: Bool) -> AccessInput {
        var who: [String: JSONValue] = [
            "id": .string(principal.id), "kind": .string(principal.kind.rawValue),
            "groups": .array(principal.groups.map { .string($0) }), "on_call": .bool(principal.onCall),
        ]
        if let email = principal.email { who["email"] = .string(email) }
        if let mfa = principal.mfaAgeSeconds { who["mfa_age"] = .int(mfa) }
        if let manager = principal.manager { who["manager"] = .string(manager) }
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
        var how: [String: JSONValue] = [
            "role": .string(ask.role), "reason": .string(ask.reason), "break_glass": .bool(ask.breakGlass),
            "hour": .int(Int64(calendar.component(.hour, from: now))),
            "weekday": .string(Self.weekdays[(calendar.component(.weekday, from: now) + 6) % 7]),
        ]
        if includingTTL { how["ttl"] = .int(ask.ttlSeconds) }
        if let ticket = ask.ticket { how["ticket"] = .string(ticket) }
        if let ip = ask.sourceIP { how["source_ip"] = .string(ip) }
        return AccessInput(
            principal: who, resource: what, request: how, risk: ["score": .int(0), "signals": .array([])],
            assessment: .none)
    }

    private static let weekdays = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]

    /// Decides `input` under the active policy set, with the explanation on deny (or always, with
    /// `explainAlways`).
    public func decide(_ input: AccessInput, explainAlways: Bool = false) throws(BrokerError) -> DecidedAsk {
        let active = policies.active
        let parsed: EvaluationInput
        do {
            parsed = try active.policies.decodeInput(input.document)
        } catch {
            logger.error("policy input rejected", metadata: ["error": "\(error.message)"])
            throw .invalidInput(error.message)
        }
        let decision = active.policies.evaluate(parsed)
        let explanation = explainAlways || decision.outcome == .deny ? active.policies.explain(parsed) : nil
        return DecidedAsk(decision: decision, explanation: explanation, policySetID: active.id, risk: input.assessment)
    }
}
