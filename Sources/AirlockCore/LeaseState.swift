import Foundation

/// Where a lease stands: `issuing` (intent written, nothing minted yet), `active`, `revoking` (its credential is
/// being removed, or will be retried), and the two ends, `expired` and `revoked`.
public enum LeaseStatus: String, Sendable, Hashable, CaseIterable, Codable {
    case issuing
    case active
    case revoking
    case revoked
    case expired

    /// Whether the lease has ended: its credential is gone and nothing more happens to it.
    public var isEnded: Bool { self == .revoked || self == .expired }
}

/// Why a lease ends, as `leases.revoke_reason` stores it. Any other text is a revocation with that reason
/// (`revoked by alice`, `revoke-all by admin`).
public enum LeaseEndReason {
    /// The lease reached its expiry.
    public static let expired = "expired"
    /// The mint failed after the lease was written; whatever part of the credential exists is removed.
    public static let issuanceFailed = "issuance_failed"
    /// An `issuing` lease was left behind (its broker died mid-issuance).
    public static let issuanceIncomplete = "issuance_incomplete"
}

/// A lease as a value: its status and times, changed only by ``apply(_:)``. Like ``AccessRequestState`` it reads no
/// clock: every event carries its time, and `apply` returns what the I/O layer must do.
public struct LeaseState: Sendable, Hashable {
    /// The status.
    public private(set) var status: LeaseStatus
    /// When the credential was minted (nil while issuing).
    public private(set) var issuedAt: Date?
    /// When the credential stops working.
    public private(set) var expiresAt: Date
    /// Why it is ending or ended (nil while issuing or active).
    public private(set) var endReason: String?
    /// When it ended.
    public private(set) var endedAt: Date?

    /// A lease restored from storage (or just written, as `issuing`).
    public init(
        status: LeaseStatus, issuedAt: Date? = nil, expiresAt: Date, endReason: String? = nil, endedAt: Date? = nil
    ) {
        self.status = status
        self.issuedAt = issuedAt
        self.expiresAt = expiresAt
        self.endReason = endReason
        self.endedAt = endedAt
    }

    /// What happens to a lease.
    public enum Event: Sendable, Hashable {
        /// The provider minted the credential.
        case minted(at: Date)
        /// The mint failed: whatever it left behind must go.
        case issuanceFailed(at: Date)
        /// The owner asks for the lease to last until `requested`; the policy allows at most `cap` (the rule's TTL
        /// counted from issue, within the broker's maximum).
        case renew(until: Date, cap: Date, at: Date)
        /// Someone ends the lease now, for `reason`.
        case revoke(reason: String, at: Date)
        /// The expiry sweep looks at the lease at `now`.
        case expire(now: Date)
        /// The provider removed the credential.
        case credentialRemoved(at: Date)
        /// Removing the credential failed; the next attempt is due at `retryAt`.
        case removalFailed(retryAt: Date)
    }

    /// What the I/O layer must do after an event.
    public enum Action: Sendable, Hashable {
        /// Store the lease as active with its credential's name (`airlock.credential.issued`).
        case activate
        /// Move the credential's own expiry (for PostgreSQL, `VALID UNTIL`) to `until`, then the lease's
        /// (`airlock.lease.renewed`).
        case extendCredential(until: Date)
        /// Remove the credential on the target (the revocation worker does it, with retries).
        case removeCredential
        /// The credential is gone: store the lease as `status` (`airlock.credential.revoked`, and
        /// `airlock.lease.expired` when it expired).
        case finish(LeaseStatus)
        /// Keep the lease `revoking` and try again at `at` (`airlock.credential.revocation_failed`).
        case retry(at: Date)
        /// Nothing to do.
        case none
    }

    /// Applies `event`, returning what to do. On error the state is unchanged.
    @discardableResult
    public mutating func apply(_ event: Event) throws(LeaseError) -> Action {
        switch event {
        case .minted(let at):
            guard status == .issuing else { throw LeaseError(.notIssuing, "the lease is \(status.rawValue), not issuing") }
            status = .active
            issuedAt = at
            return .activate
        case .issuanceFailed:
            guard status == .issuing else { throw LeaseError(.notIssuing, "the lease is \(status.rawValue), not issuing") }
            status = .revoking
            endReason = LeaseEndReason.issuanceFailed
            return .removeCredential
        case .renew(let until, let cap, let at):
            guard status == .active, issuedAt != nil else {
                throw LeaseError(.notActive, "the lease is \(status.rawValue), not active")
            }
            guard expiresAt > at else { throw LeaseError(.notActive, "the lease has expired") }
            let granted = min(until, cap)
            guard granted > expiresAt else { return .none }  // already at (or past) what may be granted
            expiresAt = granted
            return .extendCredential(until: granted)
        case .revoke(let reason, _):
            switch status {
            case .issuing, .active:
                status = .revoking
                endReason = reason
                return .removeCredential
            case .revoking:
                return .removeCredential  // already on its way out: try now
            case .revoked, .expired:
                return .none
            }
        case .expire(let now):
            guard status == .active, expiresAt <= now else { return .none }
            status = .revoking
            endReason = LeaseEndReason.expired
            return .removeCredential
        case .credentialRemoved(let at):
            guard status == .revoking else {
                throw LeaseError(.invalidTransition, "the lease is \(status.rawValue), not revoking")
            }
            status = endReason == LeaseEndReason.expired ? .expired : .revoked
            endedAt = at
            return .finish(status)
        case .removalFailed(let retryAt):
            guard status == .revoking else {
                throw LeaseError(.invalidTransition, "the lease is \(status.rawValue), not revoking")
            }
            return .retry(at: retryAt)
        }
    }
}

/// An event a lease cannot take in its current state.
public typealias LeaseError = TransitionError<LeaseErrorCode>

/// The stable codes of ``LeaseError``.
public enum LeaseErrorCode: String, Sendable, Hashable, CaseIterable {
    /// Renewing a lease that is not active, or has expired.
    case notActive = "not_active"
    /// Activating (or failing) a lease that is no longer being issued.
    case notIssuing = "not_issuing"
    /// A programming error of the caller.
    case invalidTransition = "invalid_transition"
}
