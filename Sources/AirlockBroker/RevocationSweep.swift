import AirlockCore
import AirlockPostgres
import AirlockStore
import Foundation
import Logging
import Synchronization

/// The background revocation of due leases, one lane per resource: each pass claims what is due and starts its
/// revocation without waiting for earlier ones, so a target that stalls (every call waits for its deadline) delays
/// only its own leases. A resource has at most ``perResource`` revocations in flight and the sweep ``total``; a
/// resource at its cap is skipped by the claim, and its due leases wait for its own lane to drain.
public final class RevocationSweep: Sendable {
    public let revocation: CredentialRevocation
    /// Revocations in flight for one resource, at most.
    public let perResource: Int
    /// Revocations in flight for the sweep, at most.
    public let total: Int
    private let inFlight = Mutex<[String: Int]>([:])

    public init(revocation: CredentialRevocation, perResource: Int = 16, total: Int = 256) {
        self.revocation = revocation
        self.perResource = max(1, perResource)
        self.total = max(self.perResource, total)
    }

    /// Runs passes every `interval` (at once after a pass that filled its batch) while `isReady`, until cancelled;
    /// cancelling ends the revocations in flight too (their leases stay claimed until their claim lapses or their
    /// broker is seen gone, then another worker takes them).
    public func run(interval: Duration, isReady: @escaping @Sendable () -> Bool) async {
        await withDiscardingTaskGroup { group in
            while !Task.isCancelled {
                var full = false
                if isReady() {
                    do {
                        full = try await pass { lease in
                            group.addTask { await self.revoke(lease) }
                        }
                    } catch {
                        revocation.logger.warning(
                            "lease revocation failed; retrying", metadata: ["error": "\(describeDatabaseError(error))"])
                    }
                }
                if !full {
                    do { try await Task.sleep(for: interval) } catch { break }
                }
            }
            group.cancelAll()
        }
    }

    /// One pass: claims due leases of resources below their cap, hands each to `start`, and says whether the
    /// batch was full.
    func pass(start: (LeaseToRevoke) -> Void) async throws -> Bool {
        let (busy, room) = inFlight.withLock { lanes -> ([String], Int) in
            (lanes.filter { $0.value >= perResource }.map(\.key).sorted(), total - lanes.values.reduce(0, +))
        }
        let batch = min(50, room)
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
        await revocation.revoke(lease)
        inFlight.withLock { lanes in
            lanes[lease.resourceID, default: 1] -= 1
            if lanes[lease.resourceID] ?? 0 <= 0 { lanes[lease.resourceID] = nil }
        }
    }
}
