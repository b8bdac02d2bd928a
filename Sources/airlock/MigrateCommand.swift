import AirlockStore
import ArgumentParser
import Foundation
import Logging

/// `airlock migrate [--status]`.
struct MigrateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate",
        abstract: "Apply pending database migrations, or show where each stands.")

    @OptionGroup var options: ServerOptions

    @Flag(help: "Show each migration's state and change nothing.")
    var status = false

    func run() async throws {
        let settings = try options.load()
        let directory = migrationsDirectory(settings)
        // On stderr, so that scripts reading the list on stdout see only the list.
        FileHandle.standardError.write(Data("airlock migrate: migrations from \(directory.path)\n".utf8))
        let runner = MigrationRunner(migrations: try Migration.load(from: directory))
        let showStatus = status
        let lines: [String] = try await options.withDatabase { database, _, logger in
            if showStatus {
                return try await runner.status(of: database, logger: logger).map(Self.describe)
            }
            let applied = try await runner.migrate(database, logger: logger)
            if applied.isEmpty { return ["database is up to date (\(runner.migrations.count) migrations)"] }
            return applied.map { "applied \($0.fileName)" }
        }
        for line in lines { print(line) }
    }

    static func describe(_ status: MigrationStatus) -> String {
        let name = String(format: "%04d_%@", status.version, status.name)
        switch status.state {
        case .applied(let at): return "applied   \(name)  \(at.formatted(.iso8601))"
        case .pending: return "pending   \(name)"
        case .changed: return "CHANGED   \(name)  (file differs from the applied version)"
        case .unknownToThisBuild: return "unknown   \(name)  (applied by a newer airlock)"
        }
    }
}
