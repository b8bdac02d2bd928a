import AirlockPolicy
import Foundation

/// The lifecycle of one access request as a value-type state machine.
///
/// ```
/// requested ──decided──▶ denied (terminal)
///     │                   ▲
///     ├──────────▶ pending_approval ──approve (rule met)──▶ approved ──pickUp──▶ issued
///     │               │   └──expire (decision window)──▶ expired        │
///     └─permit──▶ approved ─────────expire (pickup window)──────────────┘──▶ expired
///
/// pending_approval, approved ──revoke (the kill switch)──▶ revoked (terminal)
/// approved ──redecided (at pickup: the current policy no longer grants it)──▶ denied
/// ```
///
/// Every event returns the ``Action`` the I/O layer must perform (write the row, the approval, the audit event,
/// mint the credential); the machine itself does no I/O and reads no clock: times arrive with the events.
/// Invalid events throw an ``AccessRequestError`` whose ``AccessRequestError/Code`` maps to the API's error
/// codes, and leave the state unchanged.
public struct AccessRequestState: Sendable, Hashable {
    /// The request's status. All but ``requested`` are stored (`access_requests.status`).
    public enum Status: String, Sendable, Hashable, CaseIterable {
        /// Created, not yet decided. Never stored: the decision arrives in the same transaction.
        case requested
        /// Waiting for the approvals of one applying approval rule.
        case pendingApproval = "pending_approval"
        /// Approved (by policy or by approvers); the credential waits to be picked up.
        case approved
        /// The credential was minted (picked up); its lease takes over.
        case issued
        /// Denied by policy or by an approver. Terminal.
        case denied
        /// Nobody decided within the decision window, or nobody picked up within the pickup window. Terminal.
        case expired
        /// Closed by the kill switch (revoke-all of its requester) while pending or approved. Terminal.
        case revoked

        /// Whether nothing more can happen to the request.
        public var isClosed: Bool { self == .issued || self == .denied || self == .expired || self == .revoked }
    }

    /// How long a request may wait for each step.
    public struct Windows: Sendable, Hashable {
        /// How long approvers have to decide a pending request (default 1 h).
        public var decision: TimeInterval
        /// How long the requester has to pick up an approved credential (default 15 min).
        public var pickup: TimeInterval

        /// Creates windows; the defaults are those of the API contract.
        public init(decision: TimeInterval = 3600, pickup: TimeInterval = 900) {
            self.decision = decision
            self.pickup = pickup
        }
    }

    /// A verdict by a reviewer.
    public enum Verdict: String, Sendable, Hashable, Codable {
        case approve, deny
    }

    /// One review of the request.
    public struct Review: Sendable, Hashable {
        /// The reviewer's principal id.
        public var reviewer: String
        /// The reviewer's kind: a service counts only toward requirements that include services.
        public var kind: Principal.Kind
        /// The reviewer's groups at the time of the review.
        public var groups: Set<String>
        /// Approve or deny.
        public var verdict: Verdict
        /// When.
        public var at: Date

        /// Creates a review.
        public init(reviewer: String, kind: Principal.Kind, groups: Set<String>, verdict: Verdict, at: Date) {
            self.reviewer = reviewer
            self.kind = kind
            self.groups = groups
            self.verdict = verdict
            self.at = at
        }

        public static func == (lhs: Review, rhs: Review) -> Bool {
            Principal.sameID(lhs.reviewer, rhs.reviewer) && lhs.kind == rhs.kind && lhs.groups == rhs.groups
                && lhs.verdict == rhs.verdict && lhs.at == rhs.at
        }

        public func hash(into hasher: inout Hasher) {
            hasher.combine(PrincipalID(reviewer))
            hasher.combine(kind)
            hasher.combine(groups)
            hasher.combine(verdict)
            hasher.combine(at)
        }
    }

    /// Why a request expired.
    public enum ExpiryReason: String, Sendable, Hashable {
        /// Nobody decided within the decision window.
        case decisionWindow = "decision_window"
        /// Nobody picked the credential up within the pickup window.
        case pickupWindow = "pickup_window"
    }

    /// The principal id of the requester (who never counts as an approver).
    public let requester: String
    /// The current status.
    public internal(set) var status: Status
    /// The policy decision, once made.
    public internal(set) var decision: Decision?
    /// Reviews so far, in order.
    public internal(set) var reviews: [Review]
    /// The seconds the credential will be (or was) granted for: the decision's TTL.
    public internal(set) var grantedTTLSeconds: Int64?
    /// When the request became approved, denied or expired.
    public internal(set) var decidedAt: Date?
    /// Until when approvers may decide (pending only).
    public internal(set) var decisionDeadline: Date?
    /// Until when the credential may be picked up (approved only).
    public internal(set) var pickupDeadline: Date?
    /// When the request reached a terminal status.
    public internal(set) var closedAt: Date?
    /// The windows in force.
    public let windows: Windows

    /// A new, undecided request by `requester`.
    public init(requester: String, windows: Windows = Windows()) {
        self.requester = requester
        self.status = .requested
        self.decision = nil
        self.reviews = []
        self.windows = windows
    }

    /// A request restored from storage.
    public init(
        requester: String, status: Status, decision: Decision?, reviews: [Review], grantedTTLSeconds: Int64?,
        decidedAt: Date?, decisionDeadline: Date?, pickupDeadline: Date?, closedAt: Date?,
        windows: Windows = Windows()
    ) {
        self.requester = requester
        self.status = status
        self.decision = decision
        self.reviews = reviews
        self.grantedTTLSeconds = grantedTTLSeconds
        self.decidedAt = decidedAt
        self.decisionDeadline = decisionDeadline
        self.pickupDeadline = pickupDeadline
        self.closedAt = closedAt
        self.windows = windows
    }

    /// The approvers whose approvals count so far (the requester excluded).
    public var approvers: [Approver] {
        reviews.filter { $0.verdict == .approve && !Principal.sameID($0.reviewer, requester) }
            .map { Approver(id: $0.reviewer, kind: $0.kind, groups: $0.groups) }
    }

    /// The applying approval rules (empty unless the policy asked for approval).
    public var approvalRules: [ApprovalRule] { decision?.approvals ?? [] }
}

/// An event a state machine refuses in its current state: a stable code and one lowercase line for the client.
/// Each machine has its own codes (``AccessRequestError``, ``LeaseError``).
public struct TransitionError<Codes: RawRepresentable & Sendable & Hashable>: Error, Sendable, Hashable,
    CustomStringConvertible where Codes.RawValue == String {
    /// The machine's codes.
    public typealias Code = Codes

    /// What went wrong, for callers to branch on.
    public let code: Code
    /// One lowercase line for the client.
    public let message: String

    /// Creates an error.
    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    /// The message.
    public var description: String { message }
}

/// An invalid event for a request's current state.
///
/// Codes map one to one to the API's error codes (`self_approval` and `not_an_approver` are 403,
/// `already_reviewed`, `request_closed` and `not_approved` 409, `already_retrieved` 410);
/// `invalid_transition` is a programming error of the caller (500).
public typealias AccessRequestError = TransitionError<AccessRequestErrorCode>

/// The stable codes of ``AccessRequestError``.
public enum AccessRequestErrorCode: String, Sendable, Hashable, CaseIterable {
    case selfApproval = "self_approval"
    case alreadyReviewed = "already_reviewed"
    case notAnApprover = "not_an_approver"
    case requestClosed = "request_closed"
    case notApproved = "not_approved"
    case alreadyRetrieved = "already_retrieved"
    case invalidTransition = "invalid_transition"
}
