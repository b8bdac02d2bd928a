import AirlockServer
import AirlockStore
import ArgumentParser
import Foundation
import Logging

/// Options shared by every command that reads the broker's configuration.
struct ServerOptions: ParsableArguments {
    @Option(help: ArgumentHelp("The JSON config file (env AIRLOCK_CONFIG).", valueName: "file"))
    var config: String?

    @Option(help: ArgumentHelp("The broker database URL (env AIRLOCK_DATABASE_URL).", valueName: "url"))
    var databaseURL: String?

    /// Loads the configuration: defaults, file, environment, then these flags and `extra` overrides.
    func load(extra: [String: String] = [:]) throws -> AirlockConfiguration {
        let environment = ProcessInfo.processInfo.environment
        let file = config ?? environment["AIRLOCK_CONFIG"]
        var overrides = extra
        if let databaseURL { overrides["database.url"] = databaseURL }
        return try AirlockConfiguration.load(file: file, environment: environment, overrides: overrides)
    }

    /// Runs `body` on the broker's database with the configuration and a quiet logger: how every command that
    /// works on the database directly begins.
    func withDatabase<T: Sendable>(
        _ body: @Sendable (_ database: Database, _ settings: AirlockConfiguration, _ logger: Logger) async throws -> T
    ) async throws -> T {
        let settings = try load()
        let logger = LogSetup.bootstrap(settings, level: .warning)
        return try await Database.withDatabase(
            try settings.requireDatabaseURL(), schema: settings.databaseSchema, logger: logger
        ) { database in
            try await body(database, settings, logger)
        }
    }
}

/// Sets up swift-log once for the process, in the configured format and level.
enum LogSetup {
    static func bootstrap(_ configuration: AirlockConfiguration, level: Logger.Level? = nil) -> Logger {
        let level = level ?? configuration.logLevel
        switch configuration.logFormat {
        case .json:
            LoggingSystem.bootstrap { label in
                var handler = JSONLogHandler(label: label)
                handler.logLevel = level
                return handler
            }
        case .text:
            LoggingSystem.bootstrap { label in
                var handler = TextLogHandler(label: label)
                handler.logLevel = level
                return handler
            }
        }
        return Logger(label: "airlock")
    }
}

/// The migrations directory in use: `database.migrations_dir`, else this executable's own (never the working
/// directory; see ``InstallLayout``).
func migrationsDirectory(_ configuration: AirlockConfiguration) -> URL {
    Migration.locateDirectory(explicit: configuration.migrationsDirectory)
}

/// Loads this build's migrations from the configured or discovered directory.
func loadMigrations(_ configuration: AirlockConfiguration) throws -> [Migration] {
    try Migration.load(from: migrationsDirectory(configuration))
}
