import AirlockCore
import Foundation
import Hummingbird

/// `POST /v1/credentials`: ask and pick up in one call, for services and CI jobs (no human in the loop).
///
/// The request is recorded and audited exactly as an ask through `/v1/access-requests`; when the policy permits at
/// once, the credential is picked up in the same call, intent first. Otherwise the answer is 403 `policy_denied`
/// with the decision (and the explanation of a denial); a pending request stays pending, so an approver may still
/// approve it and the caller pick it up with `GET /v1/access-requests/{id}/credentials`.
struct ServiceCredentialRoutes {
    let requests: AccessRequestRoutes

    func register(on router: Router<AirlockRequestContext>) {
        router.post("v1/credentials") { request, context in try await issue(request, context) }
    }

    func issue(_ request: Request, _ context: AirlockRequestContext) async throws -> Response {
        let ask = try await requests.recordAsk(
            request, context, allowed: ["resource", "role", "ttl_seconds", "reason", "ticket"], reasonRequired: false)
        guard ask.decision.outcome == .permit else {
            var details: [String: JSONValue] = [
                "decision": ask.decisionJSON, "access_request_id": JSONResponse.id(ask.id),
                "status": .string(ask.status.rawValue),
            ]
            if let explanation = ask.explanation { details["explanation"] = ExplanationJSON.make(explanation) }
            let message = ask.decision.outcome == .deny
                ? "the policy denies this request"
                : "the policy requires approval; the request \(ask.id.uuidString.lowercased()) is pending"
            throw APIError(.forbidden, code: "policy_denied", message: message, details: details)
        }
        var credential = try await CredentialIssuer(broker: requests.broker).issue(requestID: ask.id, for: ask.principal)
        if case .object(var fields) = credential {
            fields["access_request_id"] = JSONResponse.id(ask.id)
            credential = .object(fields)
        }
        return JSONResponse.make(credential, status: .created)
    }
}
