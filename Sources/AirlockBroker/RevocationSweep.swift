import AirlockCore
import AirlockPostgres
import AirlockStore
import Foundation
import Logging
import Synchronization

/// The background revocation of due leases, one lane per resource: each pass claims what is due and starts its
/// revocation without waiting for earlier ones, so a target that stalls (every call waits for its deadline) delays
/// only its own leases. A resource has at most ``perResource`` revocations in flight and the sweep ``total``; a
/// resource at its cap is skipped by the claim, and its due leases wait for its own lane to drain (a revocation that
/// ends in a full lane wakes the sweep to claim the next at once).
///
/// Between passes the sweep does not poll: its ``scheduler`` sleeps until the earliest due moment the database
/// knows of (``LeaseRevocationStore/nextDue(excludingResources:)``), and is woken sooner by an expiry any broker
/// notifies (``ExpiryScheduler/heard(_:)``), so a lease is claimed the moment it expires. A fallback poll bounds the
/// sleep: it covers a notification missed and a claim left by a broker that died.
public final class RevocationSweep: Sendable {
    public let revocation: CredentialRevocation
    /// Revocations in flight for one resource, at most.
    public let perResource: Int
    /// Revocations in flight for the sweep, at most.
    public let total: Int
    /// When the sweep next looks: feed it the expiries other brokers notify (``LeaseExpiryListener``).
    public let scheduler: ExpiryScheduler
    private let inFlight = Mutex<[String: Int]>([:])

    /// Leases claimed per pass, at most: as many as one statement revokes on a target (the PostgreSQL provider's
    /// batches) and records on the broker's database (``LeaseRevocationStore/finish(_:as:username:terminatedSessions:)``).
    public static let claimedPerPass = 64

    /// A lane of 64 lets one pass's claim fill a batch; 256 in all keeps a stalled target (its revocations waiting
    /// for their deadline) from holding more than a quarter of the sweep.
    public init(revocation: CredentialRevocation, perResource: Int = 64, total: Int = 256) {
        self.revocation = revocation
        self.perResource = max(1, perResource)
        self.total = max(self.perResource, total)
        self.scheduler = ExpiryScheduler(clock: revocation.store.requests.clock)
    }

    /// Runs passes while `isReady`, until cancelled: at once after a pass that filled its batch, otherwise at the
    /// next due moment, when woken, or after `fallback` at the latest. Cancelling ends the revocations in flight
    /// too (their leases stay claimed until their claim lapses or their broker is seen gone, then another worker
    /// takes them).
    public func run(fallback: Duration, isReady: @escaping @Sendable () -> Bool) async {
        await withDiscardingTaskGroup { group in
            while !Task.isCancelled {
                var full = false
                var due: Date?
                let ready = isReady()
                if ready {
                    do {
                        full = try await pass { lease in
                            group.addTask { await self.revoke(lease) }
                        }
                        if !full { due = try await nextDue() }
                    } catch {
                        revocation.logger.warning(
                            "lease revocation failed; retrying", metadata: ["error": "\(describeDatabaseError(error))"])
                    }
                }
                // Until the database is ready, look often: the first pass should follow readiness closely.
                if !full { await scheduler.wait(due: due, fallback: ready ? fallback : min(fallback, .milliseconds(100))) }
            }
            group.cancelAll()
        }
    }

    /// The lanes at their cap, and the room left in the sweep.
    private func lanes() -> (busy: [String], room: Int) {
        inFlight.withLock { lanes in
            (lanes.filter { $0.value >= perResource }.map(\.key).sorted(), total - lanes.values.reduce(0, +))
        }
    }

    /// The earliest moment a lease the sweep could claim becomes due (nil: none, or no room: a revocation that
    /// ends wakes the sweep).
    func nextDue() async throws -> Date? {
        let (busy, room) = lanes()
        guard room > 0 else { return nil }
        return try await revocation.store.nextDue(excludingResources: busy)
    }

    /// One pass: claims due leases of resources below their cap, hands each to `start`, and says whether the
    /// batch was full.
    func pass(start: (LeaseToRevoke) -> Void) async throws -> Bool {
        let (busy, room) = lanes()
        let batch = min(Self.claimedPerPass, room)
        guard batch > 0 else { return false }
        let claimed = try await revocation.store.claimDue(limit: batch, excludingResources: busy)
        for lease in claimed {
            inFlight.withLock { $0[lease.resourceID, default: 0] += 1 }
            start(lease)
        }
        return claimed.count == batch
    }

    /// How many revocations are in flight for `resourceID`.
    public func inFlight(for resourceID: String) -> Int { inFlight.withLock { $0[resourceID] ?? 0 } }

    private func revoke(_ lease: LeaseToRevoke) async {
        let finished = await revocation.revoke(lease)
        let wasFull = inFlight.withLock { lanes -> Bool in
            let full = lanes[lease.resourceID, default: 0] >= perResource || lanes.values.reduce(0, +) >= total
            lanes[lease.resourceID, default: 1] -= 1
            if lanes[lease.resourceID] ?? 0 <= 0 { lanes[lease.resourceID] = nil }
            return full
        }
        // A full lane skipped due leases that may be claimed now; a failed attempt is due again at its retry.
        if wasFull || !finished { scheduler.wake() }
    }
}
