import AirlockCore
import AirlockLocalCluster
import AirlockServer
import AirlockStore
import Foundation
import Logging

/// The broker that `airlock dev` (and `airlock bench issuance`) runs on a throwaway cluster: the demo databases,
/// a dev master key and audit checkpoint keys, migrations applied, the dev token issuer, and the configuration that
/// points the demo resources of `Policies/resources.json` at the cluster.
struct DevBrokerSetup {
    /// The server configuration, ready for `buildApplication(config:)`.
    var config: ServerConfiguration
    /// The dev issuer: its keys are trusted and served, and it signs `airlock login --dev` tokens.
    let issuer: DevIssuer
    /// The broker's own database (superuser; holds the password: never print it).
    let brokerURL: DatabaseURL

    static func prepare(
        cluster: LocalPostgresCluster, state: DevState, settings: AirlockConfiguration, port: Int, logger: Logger
    ) async throws -> DevBrokerSetup {
        var settings = settings
        let admin = try DatabaseURL(cluster.url(database: "postgres"))
        try await DemoData.create(admin: admin, logger: logger)
        let brokerURL = admin.with(database: DemoData.brokerDatabase)
        let masterKey = KeyEncryptionKey.generate()
        try state.writeMasterKey(masterKey)
        settings.databaseURL = brokerURL
        settings.keyRing = KeyRing(current: masterKey)
        // Development signs audit checkpoints too, every minute, with keys of its own (production never invents one).
        let checkpointKeys = try AuditCheckpointKeys.generate()
        try state.writeCheckpointKeys(checkpointKeys)
        settings.auditCheckpointKeys = checkpointKeys
        settings.auditCheckpointInterval = .seconds(60)
        settings.listenPort = port
        // Development: a webhook receiver on this machine (`http://127.0.0.1:…`) is what the walkthrough uses.
        settings.webhookAddresses.allowsLoopback = true
        // Development transmits Shared Signals too, signed with a key of its own (production never invents one).
        settings.sharedSignalsTransmitter = SharedSignalsTransmitterSettings(
            issuer: "http://127.0.0.1:\(port)", signer: try SecurityEventSigner.generate())
        // Development serves the approver console, signing people in with the dev issuer's own sign-in page.
        settings.console = DevBrokerSetup.console(port: port)
        let migrations = try loadMigrations(settings)
        _ = try await Database.withDatabase(brokerURL, logger: logger) { database in
            try await MigrationRunner(migrations: migrations).migrate(database, logger: logger)
        }
        let issuer = try DevIssuer()
        var config = ServerConfiguration(settings: settings, migrations: migrations, logger: logger)
        config.devIssuer = issuer
        // The demo resources of Policies/resources.json point at this cluster through these variables.
        config.environment.merge([
            "AIRLOCK_DEV_PG_HOST": cluster.host, "AIRLOCK_DEV_PG_PORT": "\(cluster.port)",
            "AIRLOCK_DEV_PG_ADMIN_USER": cluster.superuser, "AIRLOCK_DEV_PG_ADMIN_PASSWORD": cluster.superuserPassword,
        ]) { $1 }
        return DevBrokerSetup(config: config, issuer: issuer, brokerURL: brokerURL)
    }

    /// A new `alk_` token with the admin and auditor scopes, for this throwaway broker.
    func createAdminToken(logger: Logger) async throws -> String {
        let auditSource = config.settings.auditSource
        return try await Database.withDatabase(brokerURL, logger: logger) { database in
            let tokens = ApiTokenStore(database: database, auditLog: AuditLog(source: auditSource))
            return try await tokens.create(
                name: "dev-admin", scopes: ["admin", "auditor"], actor: "airlock dev", logger: logger).token
        }
    }

    /// The console of `airlock dev` on `port` (``ConsoleSettings/devSignIn(publicURL:)``).
    static func console(port: Int) -> ConsoleSettings {
        ConsoleSettings.devSignIn(publicURL: "http://127.0.0.1:\(port)")
    }
}
