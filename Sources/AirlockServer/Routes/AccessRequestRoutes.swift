import AirlockCore
import AirlockPolicy
import AirlockStore
import Foundation
import Hummingbird

/// `/v1/access-requests`: ask, read, list what one may approve, approve or deny, pick up the credential.
struct AccessRequestRoutes {
    let broker: AccessBroker
    let trustedProxies: [CIDR]

    func register(on router: Router<AirlockRequestContext>) {
        let group = router.group("v1/access-requests")
        group.post { request, context in try await create(request, context) }
        group.get { request, context in try await list(request, context) }
        group.get(":id") { _, context in try await show(context) }
        group.post(":id/approve") { request, context in try await review(request, context, verdict: .approve) }
        group.post(":id/deny") { request, context in try await review(request, context, verdict: .deny) }
        group.get(":id/credentials") { _, context in try await pickUp(context) }
    }

    func create(_ request: Request, _ context: AirlockRequestContext) async throws -> Response {
        let ask = try await recordAsk(
            request, context, allowed: Self.askFields, reasonRequired: true)
        // The status follows from the decision; only a pending request needs reading back (for its approvers).
        var status = ask.status
        var answer: [String: JSONValue] = ["id": JSONResponse.id(ask.id), "decision": ask.decisionJSON]
        if status == .pendingApproval, let record = try await broker.requests.get(ask.id) {
            status = record.status
            answer["approvers"] = try await approvers(record)
        }
        answer["status"] = .string(status.rawValue)
        if let explanation = ask.explanation { answer["explanation"] = ExplanationJSON.make(explanation) }
        return JSONResponse.make(.object(answer), status: .created)
    }

    /// An ask as recorded: its id, the decision and the status it gives.
    struct RecordedAsk {
        let principal: Principal
        let id: UUID
        let decision: AccessDecision
        let decisionJSON: JSONValue
        let explanation: Explanation?

        var status: AccessRequestState.Status {
            switch decision.outcome {
            case .permit: .approved
            case .pendingApproval: .pendingApproval
            case .deny: .denied
            }
        }
    }

    /// Reads the body (only the `allowed` fields), checks it against the catalog and limits, decides it under the
    /// active policy set and records the request with its audit events (one statement).
    func recordAsk(
        _ request: Request, _ context: AirlockRequestContext, allowed: Set<String>, reasonRequired: Bool
    ) async throws -> RecordedAsk {
        let principal = try context.requirePrincipal()
        let body = try await RequestBody.read(request, allowed: allowed)
        let ask = try Self.ask(body, reasonRequired: reasonRequired, sourceIP: SourceAddress.resolve(
            peer: context.peerAddress, forwardedFor: request.headers[values: .forwardedFor],
            trustedProxies: trustedProxies))
        let resource = try broker.validate(ask)
        let input = broker.evaluationInput(principal: principal, resource: resource, ask: ask)
        let (_, decisionJSON, explanation, policySetID) = try broker.decide(input)
        let decision = try AccessDecision(json: decisionJSON)
        let id = try await broker.requests.createReturningID(
            NewAccessRequest(principal: principal, resourceID: resource.id, role: ask.role,
                             ttlSeconds: Int(ask.ttlSeconds), reason: ask.reason, ticket: ask.ticket,
                             breakGlass: ask.breakGlass, sourceIP: ask.sourceIP),
            resource: resource, decision: decision, evaluationInput: input, policySetID: policySetID)
        return RecordedAsk(
            principal: principal, id: id, decision: decision, decisionJSON: decisionJSON, explanation: explanation)
    }

    func list(_ request: Request, _ context: AirlockRequestContext) async throws -> Response {
        let principal = try context.requirePrincipal()
        let statusText = request.uri.queryParameters.get("status") ?? "pending_approval"
        guard let status = AccessRequestState.Status(rawValue: statusText) else {
            throw RequestBody.invalid("unknown status `\(AccessBroker.shown(statusText))`")
        }
        let mine = request.uri.queryParameters.get("mine") == "true"
        let after = request.uri.queryParameters.get("cursor").flatMap { UUID(uuidString: String($0)) }
        let page = try await broker.requests.list(
            principal: mine ? principal.id : nil, status: status, reviewableBy: mine ? nil : principal, after: after)
        return JSONResponse.make(.object([
            "items": .array(try await page.items.asyncMap { try await view($0) }),
            "next_cursor": JSONResponse.id(page.nextCursor),
        ]))
    }

    func show(_ context: AirlockRequestContext) async throws -> Response {
        let principal = try context.requirePrincipal()
        let record = try await load(context)
        let mayApprove = record.approvalProgress.contains { progress in
            progress.requirements.contains { principal.groups.contains($0.requirement.group) }
        }
        guard record.principalID == principal.id || mayApprove || principal.has(scope: "auditor")
            || principal.has(scope: "admin") else {
            throw APIError(.notFound, code: "not_found", message: "no such access request")
        }
        return JSONResponse.make(try await view(record))
    }

    func review(_ request: Request, _ context: AirlockRequestContext, verdict: AccessRequestState.Verdict) async throws -> Response {
        let principal = try context.requirePrincipal()
        let body = try await RequestBody.read(request, allowed: ["comment"])
        let comment = try body.string("comment", maxLength: 1024) ?? ""
        let id = try requestID(context)
        do {
            let record = try await broker.requests.review(id, by: principal, verdict: verdict, comment: comment)
            return JSONResponse.make(try await view(record))
        } catch let error as AccessRequestError {
            throw Self.apiError(error)
        } catch let error as StoreError where error.code == "not_found" {
            throw APIError(.notFound, code: "not_found", message: "no such access request")
        }
    }

    func pickUp(_ context: AirlockRequestContext) async throws -> Response {
        let principal = try context.requirePrincipal()
        return JSONResponse.make(try await CredentialIssuer(broker: broker).issue(requestID: try requestID(context), for: principal))
    }

    // MARK: - Helpers

    /// The fields of an ask (the body of `POST /v1/access-requests`, and of `POST /v1/decisions`).
    static let askFields: Set<String> = ["resource", "role", "ttl_seconds", "reason", "ticket", "break_glass"]

    /// Reads an ask from a checked body: 422 `validation_failed` for a missing or mistyped field.
    static func ask(_ body: RequestBody, reasonRequired: Bool = true, sourceIP: String?) throws -> AccessBroker.Ask {
        AccessBroker.Ask(
            resource: try body.string("resource", required: true, maxLength: 128) ?? "",
            role: try body.string("role", required: true, maxLength: 64) ?? "",
            ttlSeconds: try body.int("ttl_seconds", required: true) ?? 0,
            reason: try body.string("reason", required: reasonRequired, maxLength: 1024) ?? "",
            ticket: try body.string("ticket", maxLength: 128),
            breakGlass: try body.bool("break_glass") ?? false,
            sourceIP: sourceIP)
    }

    func requestID(_ context: AirlockRequestContext) throws -> UUID {
        guard let text = context.parameters.get("id"), let id = UUID(uuidString: text) else {
            throw APIError(.notFound, code: "not_found", message: "no such access request")
        }
        return id
    }

    func load(_ context: AirlockRequestContext) async throws -> AccessRequestRecord {
        guard let record = try await broker.requests.get(try requestID(context)) else {
            throw APIError(.notFound, code: "not_found", message: "no such access request")
        }
        return record
    }

    func view(_ record: AccessRequestRecord) async throws -> JSONValue {
        var object: [String: JSONValue] = [
            "id": JSONResponse.id(record.id), "status": .string(record.status.rawValue),
            "principal": .string(record.principalID), "resource": .string(record.resourceID),
            "role": .string(record.role), "ttl_seconds": .int(Int64(record.grantedTTLSeconds ?? record.ttlSeconds)),
            "requested_ttl_seconds": .int(Int64(record.ttlSeconds)),
            "reason": .string(record.reason), "ticket": record.ticket.map { .string($0) } ?? .null,
            "decision": record.decision.json,
            "approvals": .array(record.reviews.map { review in
                .object([
                    "approver": .string(review.reviewer), "verdict": .string(review.verdict.rawValue),
                    "groups": .array(review.groups.map { .string($0) }), "comment": .string(review.comment),
                    "at": JSONResponse.time(review.at),
                ])
            }),
            "created_at": JSONResponse.time(record.createdAt), "decided_at": JSONResponse.time(record.decidedAt),
        ]
        if let lease = record.leaseID { object["lease"] = JSONResponse.id(lease) }
        if record.status == .pendingApproval { object["approvers"] = try await approvers(record) }
        return .object(object)
    }

    /// Per applying approval rule: the requirements, who approved, and the members Airlock knows of.
    func approvers(_ record: AccessRequestRecord) async throws -> JSONValue {
        try await ApproversJSON.make(record.approvalProgress, requests: broker.requests)
    }

    static func apiError(_ error: AccessRequestError) -> APIError {
        switch error.code {
        case .selfApproval: APIError(.forbidden, code: "self_approval", message: error.message)
        case .notAnApprover: APIError(.forbidden, code: "not_an_approver", message: error.message)
        case .alreadyReviewed: APIError(.conflict, code: "already_reviewed", message: error.message)
        case .requestClosed, .invalidTransition: APIError(.conflict, code: "request_closed", message: error.message)
        case .notApproved: APIError(.conflict, code: "not_approved", message: error.message)
        case .alreadyRetrieved: APIError(.gone, code: "already_retrieved", message: error.message)
        }
    }
}

extension Array {
    func asyncMap<T>(_ transform: (Element) async throws -> T) async rethrows -> [T] {
        var result: [T] = []
        result.reserveCapacity(count)
        for element in self { result.append(try await transform(element)) }
        return result
    }
}
