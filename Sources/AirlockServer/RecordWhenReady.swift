import AirlockCore
import AirlockPostgres
import Logging
import ServiceLifecycle

/// The loop of the recorders (policy set, resource catalog): once the database is ready, run `record`, retrying
/// with backoff while the database fails it (`retrying` is logged); when it succeeds, `condition` is cleared and
/// the service stays until shutdown (a service that returns ends the whole group). A ``ConfigurationError`` from
/// `record` stops the broker: `condition` stays blocked with its message, `refusal` is logged as critical, and the
/// error is thrown once the HTTP server is listening (see ``Readiness/serverStarted(within:)``).
func recordWhenDatabaseReady(
    _ condition: String, readiness: Readiness, logger: Logger, retrying: Logger.Message, refusal: Logger.Message,
    _ record: () async throws -> Void
) async throws {
    var attempt = 0
    var generator = SystemRandomNumberGenerator()
    while !Task.isCancelled && !Task.isShuttingDownGracefully {
        if readiness.isMet("database") {
            do {
                try await record()
                readiness.clear(condition)
                try? await gracefulShutdown()
                return
            } catch let error as ConfigurationError {
                readiness.block(condition, reason: error.message)
                logger.critical(refusal, metadata: ["error": "\(error)"])
                await readiness.serverStarted(within: .seconds(30))
                throw error
            } catch {
                logger.warning(retrying, metadata: ["error": "\(describeDatabaseError(error))"])
                attempt += 1
            }
        }
        let wait = attempt == 0 ? Duration.milliseconds(50) : Backoff().delay(attempt: attempt, using: &generator)
        try? await cancelWhenGracefulShutdown { try await Task.sleep(for: wait) }
    }
}
