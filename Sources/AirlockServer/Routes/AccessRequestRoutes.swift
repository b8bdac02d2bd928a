import AirlockBroker
import AirlockCore
import AirlockPolicy
import AirlockStore
import Foundation
import Hummingbird

/// `/v1/access-requests`: ask, read, list what one may approve, approve or deny, pick up the credential.
struct AccessRequestRoutes {
    let requests: AccessRequests
    let issuance: CredentialIssuance
    let trustedProxies: [CIDR]

    func register(on router: Router<AirlockRequestContext>) {
        let group = router.group("v1/access-requests")
        group.post { request, context in try await create(request, context) }
        group.get { request, context in try await list(request, context) }
        group.get(":id") { _, context in
            let view = try await requests.show(try requestID(context), to: try context.requirePrincipal())
            return JSONResponse.make(Self.render(view))
        }
        group.post(":id/approve") { request, context in try await review(request, context, verdict: .approve) }
        group.post(":id/deny") { request, context in try await review(request, context, verdict: .deny) }
        group.get(":id/credentials") { request, context in
            let recipient = try CredentialSealing.recipient(of: request)
            let issued = try await issuance.pickUp(
                try requestID(context), by: try context.requirePrincipal(), sourceIP: sourceIP(request, context))
            return try CredentialSealing.answer(Self.fields(issued), lease: issued.credential.leaseID, sealedTo: recipient)
        }
    }

    func create(_ request: Request, _ context: AirlockRequestContext) async throws -> Response {
        let principal = try context.requirePrincipal()
        let body = try await RequestBody.read(request, allowed: Self.askFields)
        let ask = try Self.ask(body, reasonRequired: true, sourceIP: sourceIP(request, context))
        let recorded = try await requests.ask(ask, by: principal)
        var answer: [String: JSONValue] = [
            "id": JSONResponse.id(recorded.id), "decision": recorded.decision.stored,
            "status": .string(recorded.status.rawValue), "risk": recorded.risk.json,
        ]
        if let approvers = recorded.approvers { answer["approvers"] = ApproversJSON.make(approvers) }
        if let explanation = recorded.explanation { answer["explanation"] = ExplanationJSON.make(explanation) }
        return JSONResponse.make(.object(answer), status: .created)
    }

    func list(_ request: Request, _ context: AirlockRequestContext) async throws -> Response {
        let principal = try context.requirePrincipal()
        let statusText = request.uri.queryParameters.get("status") ?? "pending_approval"
        guard let status = AccessRequestState.Status(rawValue: statusText) else {
            throw RequestBody.invalid("unknown status `\(BrokerError.shown(statusText))`")
        }
        let page = try await requests.list(
            for: principal, status: status, mine: request.uri.queryParameters.get("mine") == "true",
            after: request.uri.queryParameters.get("cursor").flatMap { UUID(uuidString: String($0)) })
        return JSONResponse.make(.object([
            "items": .array(page.items.map(Self.render)), "next_cursor": JSONResponse.id(page.nextCursor),
        ]))
    }

    func review(_ request: Request, _ context: AirlockRequestContext, verdict: AccessRequestState.Verdict) async throws -> Response {
        let principal = try context.requirePrincipal()
        let body = try await RequestBody.read(request, allowed: ["comment", "relied_on"])
        let comment = try body.string("comment", maxLength: 1024) ?? ""
        let reliedOn = try Self.reliedOn(body)
        let view = try await requests.review(
            try requestID(context), by: principal, verdict: verdict, comment: comment, reliedOn: reliedOn)
        return JSONResponse.make(Self.render(view))
    }

    func sourceIP(_ request: Request, _ context: AirlockRequestContext) -> String? {
        SourceAddress.resolve(
            peer: context.peerAddress, forwardedFor: request.headers[values: .forwardedFor], trustedProxies: trustedProxies)
    }

    // MARK: - Reading and rendering

    /// The fields of an ask (the body of `POST /v1/access-requests`, and of `POST /v1/decisions`).
    static let askFields: Set<String> = ["resource", "role", "ttl_seconds", "reason", "ticket", "break_glass"]

    /// Reads an ask from a checked body: 422 `validation_failed` for a missing or mistyped field.
    static func ask(_ body: RequestBody, reasonRequired: Bool = true, sourceIP: String?) throws -> Ask {
        Ask(
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

    /// `relied_on`: what the approver relied on, each one of ``ApprovalEvidence`` once; 422 `validation_failed`
    /// otherwise. Absent or null: nothing said.
    static func reliedOn(_ body: RequestBody) throws -> [ApprovalEvidence] {
        guard let value = body.fields["relied_on"], !value.isNull else { return [] }
        let known = ApprovalEvidence.allCases.map(\.rawValue).joined(separator: ", ")
        guard let items = value.arrayValue, items.count <= ApprovalEvidence.allCases.count else {
            throw RequestBody.invalid("`relied_on` must be a list of at most \(ApprovalEvidence.allCases.count) of: \(known)")
        }
        var evidence: [ApprovalEvidence] = []
        for item in items {
            guard let name = item.stringValue, let parsed = ApprovalEvidence(rawValue: name), !evidence.contains(parsed) else {
                throw RequestBody.invalid("`relied_on` must list each of \(known) at most once")
            }
            evidence.append(parsed)
        }
        return evidence
    }

    static func render(_ view: RequestView) -> JSONValue {
        let record = view.record
        var object: [String: JSONValue] = [
            "id": JSONResponse.id(record.id), "status": .string(record.status.rawValue),
            "principal": .string(record.principalID), "resource": .string(record.resourceID),
            "role": .string(record.role), "ttl_seconds": .int(Int64(record.grantedTTLSeconds ?? record.ttlSeconds)),
            "requested_ttl_seconds": .int(Int64(record.ttlSeconds)),
            "reason": .string(record.reason), "ticket": record.ticket.map { .string($0) } ?? .null,
            "decision": record.decision.stored, "risk": record.risk.json,
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
        if let approvers = view.approvers { object["approvers"] = ApproversJSON.make(approvers) }
        if let context = view.context { object["approver_context"] = Self.render(context) }
        return .object(object)
    }

    /// `approver_context`: `{peers, peers_with_access, first_use, last_uses: [{request, role, at, ttl_seconds}]}`.
    static func render(_ context: ApproverContext) -> JSONValue {
        .object([
            "peers": .int(Int64(context.peers)), "peers_with_access": .int(Int64(context.peersWithAccess)),
            "first_use": .bool(context.firstUse),
            "last_uses": .array(context.lastUses.map { use in
                .object([
                    "request": JSONResponse.id(use.requestID), "role": .string(use.role), "at": JSONResponse.time(use.at),
                    "ttl_seconds": use.ttlSeconds.map { .int(Int64($0)) } ?? .null,
                ])
            }),
        ])
    }

    /// A credential as its owner receives it: the provider's fields, with its kind, expiry and lease.
    static func fields(_ issued: IssuedCredential) -> [String: JSONValue] {
        var fields = issued.credential.secretFields
        fields["kind"] = .string(issued.kind.rawValue)
        fields["expires_at"] = JSONResponse.time(issued.credential.expiresAt)
        fields["lease_id"] = JSONResponse.id(issued.credential.leaseID)
        return fields
    }
}
