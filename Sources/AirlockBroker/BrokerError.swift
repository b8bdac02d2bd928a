import AirlockCore
import AirlockPolicy
import Foundation

/// Everything a use case can refuse, in the words of a user of Airlock. The server maps each case to an HTTP
/// status in one place (`BrokerError+HTTP.swift`); the CLI prints ``message``. Messages never hold a secret.
public enum BrokerError: Error, Sendable, Hashable {
    /// A field of the input is missing, mistyped or out of range.
    case invalidInput(String)
    /// No resource with this id is configured (or it no longer is).
    case unknownResource(String)
    /// The resource of a request or lease is no longer configured (or this broker cannot issue its kind).
    case resourceNoLongerConfigured
    /// The resource has no role template of this name.
    case unknownRole(resource: String, role: String, known: [String])
    /// The TTL is not between 1 and the broker's maximum.
    case invalidTTL(maximum: Int64)
    /// No such access request, lease or principal, or one the caller may not see.
    case notFound(String)
    /// The caller may see it but not do this.
    case forbidden(String)
    /// The requester approving their own request.
    case selfApproval(String)
    /// The reviewer is in none of the groups that may approve.
    case notAnApprover(String)
    /// The reviewer has already reviewed this request.
    case alreadyReviewed(String)
    /// The request (or lease) is closed: expired, denied, issued, ended, or its pickup window has passed.
    case closed(String)
    /// The request is not approved (yet).
    case notApproved(String)
    /// The credential was already picked up.
    case alreadyRetrieved(String)
    /// The policy does not permit this now.
    case policyDenied(PolicyRefusal)
    /// The target refused to mint the credential (`atTarget`), or it was minted but could not be recorded (and
    /// goes to revocation).
    case issuanceFailed(String, atTarget: Bool)
    /// The target refused to move the credential's expiry.
    case renewalFailed(String)
    /// What is asked does not fit the thing's current state (a paused stream verified, a push stream polled).
    case conflict(String)
    /// Approving access to this environment needs a second factor proven within `maximumSeconds`; the approver's
    /// is `ageSeconds` old, or their sign-in shows none (nil).
    case freshMFARequired(environment: String, maximumSeconds: Int64, ageSeconds: Int64?)

    /// One lowercase line for the caller.
    public var message: String {
        switch self {
        case .invalidInput(let message), .notFound(let message), .forbidden(let message), .selfApproval(let message),
             .notAnApprover(let message), .alreadyReviewed(let message), .closed(let message),
             .notApproved(let message), .alreadyRetrieved(let message), .renewalFailed(let message),
             .conflict(let message):
            message
        case .unknownResource(let id): "no resource `\(Self.shown(id))`"
        case .resourceNoLongerConfigured: "the resource is no longer configured"
        case .unknownRole(let resource, let role, let known):
            "resource `\(resource)` has no role `\(Self.shown(role))` (roles: \(known.joined(separator: ", ")))"
        case .invalidTTL(let maximum): "`ttl_seconds` must be between 1 and \(maximum)"
        case .policyDenied(let refusal): refusal.message
        case .issuanceFailed(let message, _): message
        case .freshMFARequired(let environment, let maximum, let age):
            "approving access to `\(environment)` needs a second factor within \(Self.duration(maximum)); "
                + (age.map { "yours was \(Self.duration($0)) ago" } ?? "your sign-in shows none")
                + ": sign in again with your second factor, then approve"
        }
    }

    /// `seconds` as a person reads it: 45s, 15m, 2h, 2h 5m, 3d.
    static func duration(_ seconds: Int64) -> String {
        switch seconds {
        case ..<60: "\(seconds)s"
        case ..<3600: "\(seconds / 60)m"
        case ..<86400: seconds % 3600 / 60 == 0 ? "\(seconds / 3600)h" : "\(seconds / 3600)h \(seconds % 3600 / 60)m"
        default: "\(seconds / 86400)d"
        }
    }

    /// The error of a request's state machine, as the caller sees it.
    public init(_ error: AccessRequestError) {
        switch error.code {
        case .selfApproval: self = .selfApproval(error.message)
        case .notAnApprover: self = .notAnApprover(error.message)
        case .alreadyReviewed: self = .alreadyReviewed(error.message)
        case .requestClosed, .invalidTransition: self = .closed(error.message)
        case .notApproved: self = .notApproved(error.message)
        case .alreadyRetrieved: self = .alreadyRetrieved(error.message)
        }
    }

    /// User input echoed in an error: at most 64 characters, control characters replaced.
    public static func shown(_ text: String) -> String {
        String(text.prefix(64).unicodeScalars.map { $0.value < 0x20 || $0.value == 0x7f ? "?" : Character($0) })
    }
}

/// A request the policy does not permit now: the decision, why (on deny), and the request it was recorded as.
public struct PolicyRefusal: Sendable, Hashable {
    /// One lowercase line.
    public var message: String
    public var decision: Decision
    /// Which rules applied and why the others did not (deny, and renewals).
    public var explanation: Explanation?
    /// The access request recorded for it, if any (one-call credentials record the ask first).
    public var accessRequestID: UUID?
    /// Its status.
    public var status: AccessRequestState.Status?

    public init(
        message: String, decision: Decision, explanation: Explanation? = nil, accessRequestID: UUID? = nil,
        status: AccessRequestState.Status? = nil
    ) {
        self.message = message
        self.decision = decision
        self.explanation = explanation
        self.accessRequestID = accessRequestID
        self.status = status
    }
}
