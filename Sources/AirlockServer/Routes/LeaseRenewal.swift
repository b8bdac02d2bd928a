import AirlockCore
import AirlockStore
import Foundation
import Hummingbird

/// `POST /v1/leases/{id}/renew` `{ttl_seconds}`: the owner extends an active lease.
///
/// The policy decides again, with the owner as they are now (groups, MFA age, on-call) and the original request
/// without its TTL, which yields the rule's cap: the new expiry is now + `ttl_seconds`, never past issue time + cap.
/// A renewal the policy now denies is 403 `policy_denied`; one that needs approval is allowed only when the
/// original request was approved by people (their approval covered the rule's cap). The PostgreSQL login's
/// `VALID UNTIL` moves first, then the lease (and its token's expiry), with `airlock.lease.renewed`.
struct LeaseRenewal {
    let broker: AccessBroker

    func renew(_ request: Request, _ context: AirlockRequestContext) async throws -> Response {
        let principal = try context.requirePrincipal()
        let body = try await RequestBody.read(request, allowed: ["ttl_seconds"])
        let ttl = try body.int("ttl_seconds", required: true) ?? 0
        guard ttl > 0, ttl <= broker.maximumTTLSeconds else {
            throw APIError(.unprocessableContent, code: "invalid_ttl",
                           message: "`ttl_seconds` must be between 1 and \(broker.maximumTTLSeconds)")
        }
        guard let text = context.parameters.get("id"), let id = UUID(uuidString: text),
              let lease = try await broker.leases.get(id), lease.principalID == principal.id
        else { throw APIError(.notFound, code: "not_found", message: "no such lease") }
        guard lease.status == "active", let issuedAt = lease.issuedAt else {
            throw APIError(.conflict, code: "request_closed", message: "the lease is \(lease.status), not active")
        }
        guard let original = try await broker.requests.get(lease.requestID),
              let resource = broker.catalog[lease.resourceID] else {
            throw APIError(.unprocessableContent, code: "unknown_resource", message: "the resource is no longer configured")
        }
        let cap = min(try decideCap(principal: principal, resource: resource, original: original),
                      broker.maximumTTLSeconds)
        let now = broker.clock.now()
        guard lease.expiresAt > now else {
            throw APIError(.conflict, code: "request_closed", message: "the lease has expired")
        }
        let maximum = issuedAt.addingTimeInterval(TimeInterval(cap))
        let until = min(now.addingTimeInterval(TimeInterval(ttl)), maximum)
        guard until > lease.expiresAt else {
            return JSONResponse.make(LeaseRoutes.view(lease))  // already at (or past) what may be granted
        }
        if resource.kind == .postgres, let username = lease.username {
            do {
                try await broker.postgres.extend(resource: resource, username: username, validUntil: until)
            } catch {
                throw APIError(.badGateway, code: "renewal_failed", message: "the target database refused the renewal")
            }
        }
        guard try await broker.leases.renew(id, to: until, max: maximum, by: principal.id) else {
            throw APIError(.conflict, code: "request_closed", message: "the lease ended while it was being renewed")
        }
        guard let renewed = try await broker.leases.get(id) else {
            throw APIError(.notFound, code: "not_found", message: "no such lease")
        }
        return JSONResponse.make(LeaseRoutes.view(renewed))
    }

    /// The TTL cap the policy grants this lease now, or 403 `policy_denied`.
    private func decideCap(principal: Principal, resource: Resource, original: AccessRequestRecord) throws -> Int64 {
        let ask = AccessBroker.Ask(
            resource: resource.id, role: original.role, ttlSeconds: Int64(original.ttlSeconds), reason: original.reason,
            ticket: original.ticket, breakGlass: original.breakGlass, sourceIP: original.sourceIP)
        var input = broker.evaluationInput(principal: principal, resource: resource, ask: ask)
        if case .object(var root) = input, case .object(var how)? = root["request"] {
            how["ttl"] = nil  // without a requested ttl, the policy grants its cap
            root["request"] = .object(how)
            input = .object(root)
        }
        let (_, json, explanation, _) = try broker.decide(input)
        let decision = try AccessDecision(json: json)
        let approvedByPeople = original.decision.outcome == .pendingApproval
        switch decision.outcome {
        case .permit where decision.ttlSeconds != nil:
            return decision.ttlSeconds ?? 0
        case .pendingApproval where approvedByPeople && decision.ttlSeconds != nil:
            return decision.ttlSeconds ?? 0
        default:
            var details: [String: JSONValue] = ["decision": json]
            if let explanation { details["explanation"] = ExplanationJSON.make(explanation) }
            throw APIError(.forbidden, code: "policy_denied",
                           message: "the policy does not permit renewing this lease now", details: details)
        }
    }
}
