import AirlockBroker
import AirlockCore
import AirlockPolicy
import Hummingbird

/// `POST /v1/decisions`: what the active policy set would decide for an ask, with no side effects (no request
/// row, no audit event). The body is that of `POST /v1/access-requests`; admins may add `principal` to ask for
/// someone else. The answer is `{decision, approvers?, explanation}`: `approvers` when the decision is pending,
/// `explanation` for every outcome (which rules applied, and for the others the first condition that failed).
struct DecisionRoutes {
    let routes: AccessRequestRoutes

    /// The fields of a body's `principal` object (the attributes of `principal` in policies).
    static let principalFields: Set<String> = ["id", "kind", "groups", "email", "mfa_age", "on_call", "manager"]

    func register(on router: Router<AirlockRequestContext>) {
        router.post("v1/decisions") { request, context in try await decide(request, context) }
    }

    func decide(_ request: Request, _ context: AirlockRequestContext) async throws -> Response {
        let caller = try context.requirePrincipal()
        let body = try await RequestBody.read(request, allowed: AccessRequestRoutes.askFields.union(["principal"]))
        var principal = caller
        if let fields = body.fields["principal"], !fields.isNull {
            guard caller.has(scope: "admin") else {
                throw APIError(.forbidden, code: "forbidden", message: "only admins may ask for another principal")
            }
            principal = try Self.principal(body)
        }
        let ask = try AccessRequestRoutes.ask(body, sourceIP: routes.sourceIP(request, context))
        let (decided, approvers) = try await routes.requests.whatIf(ask, for: principal)
        var answer: [String: JSONValue] = [
            "decision": decided.decision.stored, "risk": decided.risk.json,
            "explanation": decided.explanation.map(ExplanationJSON.make) ?? .array([]),
        ]
        if let approvers { answer["approvers"] = ApproversJSON.make(approvers) }
        return JSONResponse.make(.object(answer))
    }

    /// The body's `principal`, read strictly: `{id, kind, groups?, email?, mfa_age?, on_call?, manager?}` (`mfa_age`
    /// in seconds, `manager` a principal id as the policy sees it, not empty); unknown fields are 400
    /// `unknown_field`, missing or mistyped ones 422 `validation_failed`.
    /// The principal holds no scopes: scopes are no policy attribute.
    static func principal(_ body: RequestBody) throws -> Principal {
        guard let fields = try body.object("principal", allowed: principalFields) else {
            throw RequestBody.invalid("`principal` is required")
        }
        let id = try fields.string("id", required: true, maxLength: 256) ?? ""
        guard !id.isEmpty else { throw RequestBody.invalid("`principal.id` must not be empty") }
        let kindText = try fields.string("kind", required: true, maxLength: 16) ?? ""
        guard let kind = Principal.Kind(rawValue: kindText) else {
            throw RequestBody.invalid("`principal.kind` must be \"user\" or \"service\"")
        }
        let mfaAge = try fields.int("mfa_age")
        if let mfaAge, mfaAge < 0 { throw RequestBody.invalid("`principal.mfa_age` must not be negative") }
        let manager = try fields.string("manager", maxLength: 256)
        if manager?.isEmpty == true {
            throw RequestBody.invalid("`principal.manager` must not be empty (leave it out for no manager)")
        }
        return Principal(
            id: id, kind: kind, groups: try fields.strings("groups") ?? [],
            email: try fields.string("email", maxLength: 256), mfaAgeSeconds: mfaAge,
            onCall: try fields.bool("on_call") ?? false, manager: manager)
    }
}
