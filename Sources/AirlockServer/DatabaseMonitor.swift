import AirlockCore
import AirlockPostgres
import AirlockStore
import Logging
import Metrics
import ServiceLifecycle

/// Watches the broker database: retries with backoff until it answers, checks migrations, and keeps
/// ``Readiness`` true to what it finds.
///
/// At first contact, pending migrations are applied when `migrateOnStart` is set; otherwise the service fails
/// with a clear message and the broker stops (it never serves an out-of-date schema). A changed migration file
/// always stops it.
struct DatabaseMonitor: Service {
    let database: Database
    let runner: MigrationRunner
    let migrateOnStart: Bool
    let readiness: Readiness
    let logger: Logger
    var backoff = Backoff()
    var recheckInterval: Duration = .seconds(5)
    let databaseUp = Gauge(label: "airlock_database_up")

    func run() async throws {
        var attempt = 0
        var generator = SystemRandomNumberGenerator()
        var firstContact = true
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            let wait: Duration
            do {
                try await check(firstContact: firstContact)
                firstContact = false
                if attempt > 0 { logger.info("database reachable again", metadata: ["database": "\(database.url)"]) }
                attempt = 0
                wait = recheckInterval
                databaseUp.record(1)
            } catch let error as StoreError where error.code.hasPrefix("migration") || error.code == "pending_migrations" {
                readiness.block("database", reason: error.message)
                await readiness.serverStarted(within: .seconds(30))
                throw error
            } catch {
                let reason = (error as? StoreError)?.message ?? "database unreachable: \(describeDatabaseError(error))"
                readiness.block("database", reason: reason)
                databaseUp.record(0)
                wait = backoff.delay(attempt: attempt, using: &generator)
                logger.warning(
                    "database unreachable; retrying",
                    metadata: ["error": "\(reason)", "retry_in": "\(wait)"])
                attempt += 1
            }
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: wait) }
        }
    }

    private func check(firstContact: Bool) async throws {
        let database = self.database, runner = self.runner, logger = self.logger
        // One direct connection first: it fails fast and says why (refused, bad password, no such database),
        // where the pool would retry silently until the timeout below.
        try await Database.probe(database.url, logger: logger)
        _ = try await withTimeout(.seconds(5)) {
            try await database.client.query("SELECT 1", logger: logger)
        }
        var pending = try await withTimeout(.seconds(10)) { try await runner.pending(in: database, logger: logger) }
        if !pending.isEmpty && firstContact && migrateOnStart {
            let applied = try await runner.migrate(database, logger: logger)
            logger.info("migrations applied at start-up", metadata: ["count": "\(applied.count)"])
            pending = try await runner.pending(in: database, logger: logger)
        }
        if !pending.isEmpty {
            let names = pending.map(\.fileName).joined(separator: ", ")
            let error = StoreError(
                code: "pending_migrations",
                message: "the database has \(pending.count) pending migration(s) (\(names)): run `airlock migrate` or start with --migrate")
            if firstContact { throw error }
            readiness.block("database", reason: error.message)
            return
        }
        readiness.clear("database")
    }
}
