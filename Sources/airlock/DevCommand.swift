import AirlockBroker
import AirlockCore
import AirlockLocalCluster
import AirlockServer
import AirlockStore
import ArgumentParser
import Foundation
import Logging
import Metrics
import Prometheus

/// `airlock dev`: a complete local broker on a throwaway PostgreSQL cluster, for a newcomer's first minutes and
/// for end-to-end tests. Ctrl-C stops the broker, then the cluster, and removes every file it made.
struct DevCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dev",
        abstract: "Run a local broker with a throwaway PostgreSQL cluster and demo databases.")

    @Option(help: "The broker's port on 127.0.0.1.")
    var port: Int = 8420

    @Option(help: ArgumentHelp(
        "Policy directory (DIR/*.airlock; resources in DIR/resources.*); default: the Policies installed with airlock, or of the checkout it was built in.",
        valueName: "dir"))
    var policies: String = AirlockConfiguration.defaultPoliciesDirectory

    @Flag(help: "Keep the cluster's files after exit.")
    var keep = false

    @Option(help: ArgumentHelp("Where the cluster and the dev master key live (default: a new temporary directory).", valueName: "dir"))
    var stateDir: String?

    @Flag(help: "Print the connection details as one JSON object on the first line of stdout.")
    var json = false

    func validate() throws {
        guard (1...65535).contains(port) else { throw ValidationError("--port must be between 1 and 65535") }
    }

    func run() async throws {
        // Before anything is made: every signal from here on cleans up (see DevCleanup).
        DevCleanup.shared.install()
        let lock = try DevLock.acquire(port: port)
        let releaseLock = DevCleanup.shared.add { lock.release() }
        defer { DevCleanup.shared.run(releaseLock) }
        if DevLock.portInUse(port) {
            throw DevError("port \(port) on 127.0.0.1 is already in use by another program: pass --port")
        }
        var settings = AirlockConfiguration()
        settings.logLevel = .info
        settings.policiesDirectory = policies
        // One developer on loopback (and the API fuzzer, which goes as fast as it can): no rate limits.
        settings.addressRateLimit = .off
        settings.principalRateLimit = .off
        // Check the policies before spending time on a cluster: a broken set is reported at once.
        let policySet = try ActivePolicySet.load(directory: policies)
        let logger = LogSetup.bootstrap(settings)
        note("policies from \(policies), migrations from \(migrationsDirectory(settings).path)")
        let state = try DevState.make(stateDir)
        try await state.withCluster(keep: keep, note: note) { cluster in
            try await serve(cluster: cluster, state: state, settings: settings, policies: policySet, logger: logger)
        }
    }

    private func serve(
        cluster: LocalPostgresCluster, state: DevState, settings: AirlockConfiguration, policies: ActivePolicySet,
        logger: Logger
    ) async throws {
        var setup = try await DevBrokerSetup.prepare(
            cluster: cluster, state: state, settings: settings, port: port, logger: logger)
        let adminToken = try await setup.createAdminToken(logger: logger)
        let issuerFile = DevState.issuerFile(port: port)
        let removeIssuer = DevCleanup.shared.add { try? FileManager.default.removeItem(atPath: issuerFile) }
        defer { DevCleanup.shared.run(removeIssuer) }
        try setup.issuer.save(to: issuerFile)

        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
        setup.config.metrics = registry
        let agentConfiguration = try await DevAgentExample.write(
            state: state.directory, brokerURL: "http://127.0.0.1:\(port)", issuer: setup.issuer)
        let banner = DevBanner(
            brokerURL: "http://127.0.0.1:\(port)",
            databaseURL: cluster.url(database: DemoData.brokerDatabase),
            targetDatabaseURL: cluster.url(database: "orders"),
            adminToken: adminToken, stateDirectory: state.directory.path, agentConfiguration: agentConfiguration, keep: keep,
            policies: "\(policies.policies.rules.count) rules from \(policies.directory)")
        let json = self.json
        setup.config.onServerRunning = { _ in
            // From now on the broker's service group owns SIGINT, SIGTERM (a graceful stop, then the clean-up of
            // withCluster) and SIGHUP (a policy reload).
            DevCleanup.shared.deferToServiceGroup(true)
            banner.print(json: json)
        }
        let app = try buildApplication(config: setup.config)
        defer { DevCleanup.shared.deferToServiceGroup(false) }
        try await app.runService()
        note("stopping ...")
    }
}

/// A status line on standard error (stdout carries the banner, or the JSON line with --json).
func note(_ text: String) {
    FileHandle.standardError.write(Data("airlock dev: \(text)\n".utf8))
}
