import AirlockAudit
import AirlockCore
import AirlockStore
import Foundation
import Hummingbird
import Logging
import Prometheus
import ServiceLifecycle

/// The request context of every Airlock route.
public typealias AirlockRequestContext = BasicRequestContext

/// Builds the broker: the HTTP routes and, in one `ServiceGroup` with the server, the database pool, the
/// database monitor (readiness and migrations) and the audit chainer. SIGTERM/SIGINT stop accepting
/// connections, let in-flight requests finish, then stop the background services and close the pool.
public func buildApplication(config: ServerConfiguration) throws -> some ApplicationProtocol {
    let settings = config.settings
    let logger = config.logger
    let databaseURL = try settings.requireDatabaseURL()
    _ = try settings.requireKeyRing()
    let policies = LoadedPolicies(try ActivePolicySet.load(directory: settings.policiesDirectory))
    let database = Database(url: databaseURL, maximumConnections: settings.databaseMaxConnections, logger: logger)
    let readiness = Readiness()
    readiness.block("policies", reason: "the loaded policy set is not yet recorded")
    let auditLog = AuditLog(source: settings.auditSource, clock: config.clock)
    let recorder = PolicyRecorder(
        database: database, policies: policies, auditLog: auditLog, readiness: readiness, logger: logger)
    let monitor = DatabaseMonitor(
        database: database, runner: MigrationRunner(migrations: config.migrations),
        migrateOnStart: config.migrateOnStart, readiness: readiness, logger: logger)
    let chainer = AuditChainer(
        database: database, interval: settings.auditChainInterval, logger: logger,
        isDatabaseReady: { readiness.isMet("database") })

    let router = Router(context: AirlockRequestContext.self)
    router.add(middleware: RequestIDMiddleware())
    router.add(middleware: LogRequestsMiddleware(.info))
    router.add(middleware: MetricsMiddleware())
    HealthRoutes(readiness: readiness, metrics: config.metrics).register(on: router)

    return Application(
        router: router,
        configuration: .init(address: .hostname(settings.listenHost, port: settings.listenPort), serverName: "airlock"),
        services: [database.client, monitor, recorder, chainer],
        onServerRunning: { channel in
            await config.onServerRunning(channel.localAddress?.port ?? settings.listenPort)
        },
        logger: logger)
}
