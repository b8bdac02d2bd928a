import AirlockPostgres
import AirlockBroker
import AirlockStore
import Logging
import ServiceLifecycle

/// Background work that runs every `interval` once the database is ready: each pass handles a batch and says
/// whether a full batch was handled (then the next pass follows at once). Sweeps claim their rows with
/// `FOR UPDATE SKIP LOCKED`, so replicas running the same sweep take disjoint rows.
///
/// - `request expiry`: requests nobody decided within the request window, and approved requests nobody picked up
///   within the pickup window (each expiry commits with its `airlock.access.expired` event).
/// Lease revocation runs in ``RevocationSweepService`` (one lane per resource).
struct PeriodicSweep: Service {
    let name: String
    let readiness: Readiness
    let interval: Duration
    let logger: Logger
    /// One batch; true when the batch was full.
    let pass: @Sendable () async throws -> Bool

    func run() async throws {
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            if readiness.isMet("database") {
                do {
                    while try await pass() {}
                } catch {
                    logger.warning("\(name) failed; retrying", metadata: ["error": "\(describeDatabaseError(error))"])
                }
            }
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
        }
    }
}

extension PeriodicSweep: CustomStringConvertible {
    var description: String { "PeriodicSweep(\(name), every \(interval))" }
}

/// The lease revocation sweep (``RevocationSweep``: one lane per resource) as a service, once the database is
/// ready, until graceful shutdown: a pass at each lease's expiry (the sweep's timer, re-armed by
/// ``LeaseExpiryListener``), and at the latest every `fallback`.
struct RevocationSweepService: Service {
    let sweep: RevocationSweep
    let readiness: Readiness
    let fallback: Duration

    func run() async throws {
        let readiness = self.readiness
        await cancelWhenGracefulShutdown {
            await sweep.run(fallback: fallback) { readiness.isMet("database") }
        }
    }
}

extension RevocationSweepService: CustomStringConvertible {
    var description: String {
        "RevocationSweepService(lanes of \(sweep.perResource), at most \(sweep.total), fallback poll every \(fallback))"
    }
}

/// The webhook dispatcher (`WebhookDispatcher`) as a service: it delivers once the database is ready and stops
/// with the broker (deliveries in flight are cut off; their events stay pending and are delivered again, with the
/// same `webhook-id`, after the claim lapses).
struct WebhookDispatchService: Service {
    let dispatcher: WebhookDispatcher
    let readiness: Readiness
    let fallback: Duration
    let onStop: @Sendable () async -> Void

    func run() async throws {
        let readiness = self.readiness
        await cancelWhenGracefulShutdown {
            await dispatcher.run(fallback: fallback) { readiness.isMet("database") }
        }
        await onStop()
    }
}
