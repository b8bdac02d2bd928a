import AirlockBroker
import AirlockCore
import Hummingbird

/// The one place a domain error becomes HTTP: each ``BrokerError`` with its status and stable code. Anything
/// else that reaches ``APIError/response(for:requestID:logger:)`` unmapped is a logged, generic 500.
extension APIError {
    init(_ error: BrokerError) {
        let message = error.message
        switch error {
        case .invalidInput: self.init(.unprocessableContent, code: "validation_failed", message: message)
        case .unknownResource: self.init(.unprocessableContent, code: "unknown_resource", message: message)
        case .resourceNoLongerConfigured:
            self.init(.unprocessableContent, code: "unknown_resource", message: message)
        case .unknownRole: self.init(.unprocessableContent, code: "unknown_role", message: message)
        case .invalidTTL: self.init(.unprocessableContent, code: "invalid_ttl", message: message)
        case .notFound: self.init(.notFound, code: "not_found", message: message)
        case .forbidden: self.init(.forbidden, code: "forbidden", message: message)
        case .selfApproval: self.init(.forbidden, code: "self_approval", message: message)
        case .notAnApprover: self.init(.forbidden, code: "not_an_approver", message: message)
        case .alreadyReviewed: self.init(.conflict, code: "already_reviewed", message: message)
        case .closed: self.init(.conflict, code: "request_closed", message: message)
        case .notApproved: self.init(.conflict, code: "not_approved", message: message)
        case .alreadyRetrieved: self.init(.gone, code: "already_retrieved", message: message)
        case .policyDenied(let refusal):
            var details: [String: JSONValue] = ["decision": refusal.decision.stored]
            if let explanation = refusal.explanation { details["explanation"] = ExplanationJSON.make(explanation) }
            if let id = refusal.accessRequestID { details["access_request_id"] = JSONResponse.id(id) }
            if let status = refusal.status { details["status"] = .string(status.rawValue) }
            self.init(.forbidden, code: "policy_denied", message: message, details: details)
        case .issuanceFailed(_, let atTarget):
            self.init(atTarget ? .badGateway : .internalServerError, code: "issuance_failed", message: message)
        case .renewalFailed: self.init(.badGateway, code: "renewal_failed", message: message)
        case .conflict: self.init(.conflict, code: "conflict", message: message)
        case .freshMFARequired(_, let maximum, let age):
            var details: [String: JSONValue] = ["mfa_max_age_seconds": .int(maximum)]
            if let age { details["mfa_age_seconds"] = .int(age) }
            self.init(.forbidden, code: "fresh_mfa_required", message: message, details: details)
        }
    }
}
