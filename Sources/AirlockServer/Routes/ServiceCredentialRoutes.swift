import AirlockBroker
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
    let routes: AccessRequestRoutes

    func register(on router: Router<AirlockRequestContext>) {
        router.post("v1/credentials") { request, context in try await issue(request, context) }
    }

    func issue(_ request: Request, _ context: AirlockRequestContext) async throws -> Response {
        let principal = try context.requirePrincipal()
        let recipient = try CredentialSealing.recipient(of: request)
        let body = try await RequestBody.read(request, allowed: ["resource", "role", "ttl_seconds", "reason", "ticket"])
        let ask = try AccessRequestRoutes.ask(body, reasonRequired: false, sourceIP: routes.sourceIP(request, context))
        let issued = try await routes.issuance.issueNow(ask, by: principal)
        var fields = AccessRequestRoutes.fields(issued)
        fields["access_request_id"] = JSONResponse.id(issued.accessRequestID)
        return try CredentialSealing.answer(
            fields, lease: issued.credential.leaseID, sealedTo: recipient, status: .created)
    }
}
