import AirlockStore
import Logging
import ServiceLifecycle

/// Expires requests nobody decided within the request window, and approved requests nobody picked up within the
/// pickup window, every few seconds once the database is ready. Rows are claimed with `FOR UPDATE SKIP LOCKED`,
/// so replicas sweep disjoint rows; each expiry commits with its `airlock.access.expired` event.
struct RequestExpiry: Service {
    let requests: AccessRequestStore
    let readiness: Readiness
    let interval: Duration
    let logger: Logger

    func run() async throws {
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            if readiness.isMet("database") {
                do {
                    while try await requests.expireDue(limit: 100).count == 100 {}
                } catch {
                    logger.warning("request expiry sweep failed; retrying", metadata: [
                        "error": "\(describeDatabaseError(error))",
                    ])
                }
            }
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
        }
    }
}
