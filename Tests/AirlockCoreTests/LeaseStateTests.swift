import AirlockCore
import Foundation
import Testing

/// The lease state machine: every event against every status it may meet, times only from the events.
struct LeaseStateTests {
    static let t0 = Date(timeIntervalSince1970: 1_800_000_000)

    static func active(expiresIn seconds: TimeInterval = 600) -> LeaseState {
        LeaseState(status: .active, issuedAt: t0, expiresAt: t0.addingTimeInterval(seconds))
    }

    @Test("issuing → active on mint; a failed mint sends it to revocation as issuance_failed")
    func issuance() throws {
        var lease = LeaseState(status: .issuing, expiresAt: Self.t0.addingTimeInterval(600))
        #expect(try lease.apply(.minted(at: Self.t0)) == .activate)
        #expect(lease.status == .active && lease.issuedAt == Self.t0)
        #expect(throws: LeaseError(.notIssuing, "the lease is active, not issuing")) { try lease.apply(.minted(at: Self.t0)) }

        var failed = LeaseState(status: .issuing, expiresAt: Self.t0.addingTimeInterval(600))
        #expect(try failed.apply(.issuanceFailed(at: Self.t0)) == .removeCredential)
        #expect(failed.status == .revoking && failed.endReason == LeaseEndReason.issuanceFailed)
        #expect(try failed.apply(.credentialRemoved(at: Self.t0)) == .finish(.revoked))
    }

    @Test("renewal moves the expiry up to the cap, never back, never on an expired or ended lease")
    func renewal() throws {
        var lease = Self.active()
        let now = Self.t0.addingTimeInterval(100)
        let cap = Self.t0.addingTimeInterval(1800)
        #expect(try lease.apply(.renew(until: now.addingTimeInterval(900), cap: cap, at: now))
            == .extendCredential(until: now.addingTimeInterval(900)))
        #expect(lease.expiresAt == now.addingTimeInterval(900))
        // Past the cap: granted up to the cap only.
        #expect(try lease.apply(.renew(until: now.addingTimeInterval(5000), cap: cap, at: now)) == .extendCredential(until: cap))
        // Asking for less than it has: nothing to do (a renewal never shortens a lease).
        #expect(try lease.apply(.renew(until: now.addingTimeInterval(10), cap: cap, at: now)) == .none)
        #expect(lease.expiresAt == cap)

        var expired = Self.active(expiresIn: 60)
        let late = Self.t0.addingTimeInterval(61)
        #expect(throws: LeaseError(.notActive, "the lease has expired")) {
            try expired.apply(.renew(until: late.addingTimeInterval(600), cap: cap, at: late))
        }
        #expect(expired.expiresAt == Self.t0.addingTimeInterval(60))
        var issuing = LeaseState(status: .issuing, expiresAt: cap)
        #expect(throws: LeaseError(.notActive, "the lease is issuing, not active")) {
            try issuing.apply(.renew(until: cap, cap: cap, at: Self.t0))
        }
    }

    @Test("expiry is due only once the expiry has passed, and ends as expired")
    func expiry() throws {
        var lease = Self.active(expiresIn: 60)
        #expect(try lease.apply(.expire(now: Self.t0.addingTimeInterval(59))) == .none)
        #expect(lease.status == .active)
        #expect(try lease.apply(.expire(now: Self.t0.addingTimeInterval(60))) == .removeCredential)
        #expect(lease.status == .revoking && lease.endReason == LeaseEndReason.expired)
        #expect(try lease.apply(.credentialRemoved(at: Self.t0.addingTimeInterval(61))) == .finish(.expired))
        #expect(lease.status.isEnded && lease.endedAt == Self.t0.addingTimeInterval(61))
        #expect(try lease.apply(.expire(now: Self.t0.addingTimeInterval(999))) == .none)
    }

    @Test("revocation: active and issuing leases go, a revoking one is tried again, an ended one stays ended")
    func revocation() throws {
        for status in [LeaseStatus.active, .issuing] {
            var lease = LeaseState(status: status, issuedAt: Self.t0, expiresAt: Self.t0.addingTimeInterval(600))
            #expect(try lease.apply(.revoke(reason: "revoked by alice", at: Self.t0)) == .removeCredential)
            #expect(lease.status == .revoking && lease.endReason == "revoked by alice")
            #expect(try lease.apply(.revoke(reason: "again", at: Self.t0)) == .removeCredential)
            #expect(lease.endReason == "revoked by alice")
            let retryAt = Self.t0.addingTimeInterval(5)
            #expect(try lease.apply(.removalFailed(retryAt: retryAt)) == .retry(at: retryAt))
            #expect(lease.status == .revoking)
            #expect(try lease.apply(.credentialRemoved(at: Self.t0)) == .finish(.revoked))
            #expect(try lease.apply(.revoke(reason: "late", at: Self.t0)) == .none)
            #expect(throws: LeaseError.self) { try lease.apply(.credentialRemoved(at: Self.t0)) }
            #expect(throws: LeaseError.self) { try lease.apply(.removalFailed(retryAt: Self.t0)) }
        }
    }

    @Test("an event that does not fit leaves the state unchanged")
    func refusalsChangeNothing() {
        let start = Self.active()
        var lease = start
        #expect(throws: LeaseError.self) { try lease.apply(.minted(at: Self.t0)) }
        #expect(throws: LeaseError.self) { try lease.apply(.issuanceFailed(at: Self.t0)) }
        #expect(throws: LeaseError.self) { try lease.apply(.credentialRemoved(at: Self.t0)) }
        #expect(lease == start)
    }
}
