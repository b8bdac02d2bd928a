import AirlockPostgres
import AirlockStore
import Logging
import ServiceLifecycle

/// Background work that runs every `interval` once the database is ready: each pass handles a batch and says
/// whether a full batch was handled (then the next pass follows at once). Sweeps claim their rows with
/// `FOR UPDATE SKIP LOCKED`, so replicas running the same sweep take disjoint rows.
///
/// - `request expiry`: requests nobody decided within the request window, and approved requests nobody picked up
///   within the pickup window (each expiry commits with its `airlock.access.expired` event).
/// - `lease revocation`: ``CredentialRevocation`` (expired, revoked and abandoned leases).
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
