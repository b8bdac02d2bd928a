import AirlockServer
import ArgumentParser
import Foundation
import Logging
import Metrics
import Prometheus

/// `airlock serve`: runs the broker until SIGTERM or SIGINT.
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run the broker.",
        discussion: """
            Refuses to start against a database with pending migrations unless --migrate is given. \
            While the database is unreachable the broker keeps retrying and /readyz answers 503.
            """)

    @OptionGroup var options: ServerOptions

    @Option(help: ArgumentHelp("Address to listen on (env AIRLOCK_LISTEN).", valueName: "host:port"))
    var listen: String?

    @Flag(help: "Apply pending migrations before serving.")
    var migrate = false

    func run() async throws {
        var extra: [String: String] = [:]
        if let listen { extra["listen"] = listen }
        let settings = try options.load(extra: extra)
        let logger = LogSetup.bootstrap(settings)
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
        var config = ServerConfiguration(settings: settings, migrations: try loadMigrations(settings), logger: logger)
        config.migrateOnStart = migrate
        config.metrics = registry
        let app = try buildApplication(config: config)
        logger.info("starting airlock", metadata: [
            "listen": "\(settings.listenHost):\(settings.listenPort)",
            "database": "\(settings.databaseURL.map { "\($0)" } ?? "-")",
            "schema": "\(settings.databaseSchema)",
            "migrations": "\(migrationsDirectory(settings).path)",
            "policies": "\(settings.policiesDirectory)",
        ])
        try await app.runService()
    }
}
