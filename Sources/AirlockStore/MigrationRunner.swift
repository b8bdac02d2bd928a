import AirlockPostgres
import Foundation
import Logging
import PostgresNIO

/// Where one migration stands in a database.
public struct MigrationStatus: Sendable, Equatable {
    /// How a migration file relates to the database.
    public enum State: Sendable, Equatable {
        /// Applied, and the file is unchanged since.
        case applied(at: Date)
        /// Not yet applied.
        case pending
        /// Applied, but the file's checksum differs from the one recorded: refuse to go on.
        case changed(recorded: String, file: String)
        /// Recorded in the database but not among this build's files (a newer broker applied it).
        case unknownToThisBuild
    }

    public let version: Int
    public let name: String
    public let state: State
}

/// Applies `Migrations/` to a database, in order, each file in its own transaction, once.
///
/// A PostgreSQL advisory lock, held on one connection for the whole run, makes replicas that start together
/// migrate one after the other: the second finds nothing left to do.
///
/// Everything happens in the database's ``SchemaName`` (`database.schema`): the pool's connections have it alone as
/// their `search_path`, so the migrations' unqualified tables land there, and `schema_migrations` is always named
/// qualified with it. A missing schema is created (owned by the broker's role) before the first migration.
public struct MigrationRunner: Sendable {
    /// The advisory lock key (`AIRLOCK` + 1 as bytes): shared by every Airlock replica.
    public static let advisoryLockKey: Int64 = 0x4149_524C_4F43_4B01

    /// The migrations this build knows, in order.
    public let migrations: [Migration]

    /// Creates a runner for `migrations` (already sorted by ``Migration/load(from:)``).
    public init(migrations: [Migration]) {
        self.migrations = migrations
    }

    /// Where each migration stands, this build's files first and then any unknown ones, by version.
    public func status(of database: Database, logger: Logger) async throws -> [MigrationStatus] {
        try await database.client.withConnection { connection in
            try await self.status(on: connection, schema: database.schema, logger: logger)
        }
    }

    /// The migrations not yet applied; throws if an applied file has changed.
    public func pending(in database: Database, logger: Logger) async throws -> [Migration] {
        let statuses = try await status(of: database, logger: logger)
        try Self.refuseChanged(statuses, migrations: migrations)
        let pendingVersions = Set(statuses.filter { $0.state == .pending }.map(\.version))
        return migrations.filter { pendingVersions.contains($0.version) }
    }

    /// Applies every pending migration and returns those it applied (none if another replica already did).
    ///
    /// An applied migration whose file changed stops the run before anything is applied, naming the file.
    @discardableResult
    public func migrate(_ database: Database, logger: Logger) async throws -> [Migration] {
        try await database.client.withConnection { connection in
            try await connection.query("SELECT pg_advisory_lock(\(Self.advisoryLockKey))", logger: logger)
            do {
                let applied = try await self.applyPending(on: connection, schema: database.schema, logger: logger)
                try await connection.query("SELECT pg_advisory_unlock(\(Self.advisoryLockKey))", logger: logger)
                return applied
            } catch {
                _ = try? await connection.query("SELECT pg_advisory_unlock(\(Self.advisoryLockKey))", logger: logger)
                throw error
            }
        }
    }

    private func applyPending(
        on connection: PostgresConnection, schema: SchemaName, logger: Logger
    ) async throws -> [Migration] {
        let rows = try await connection.query(
            "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = \(schema.name))", logger: logger)
        var schemaExists = false
        for try await exists in rows.decode(Bool.self) { schemaExists = exists }
        if !schemaExists {
            // Only when missing: CREATE SCHEMA IF NOT EXISTS needs CREATE on the database even when it exists.
            try await connection.query(PostgresQuery(unsafeSQL: "CREATE SCHEMA \(schema.quoted)"), logger: logger)
            logger.notice("created the schema of airlock's tables", metadata: ["schema": "\(schema)"])
        }
        let table = schema.qualified("schema_migrations")
        try await connection.query(
            PostgresQuery(unsafeSQL: """
            CREATE TABLE IF NOT EXISTS \(table) (
                version integer PRIMARY KEY,
                name text NOT NULL,
                checksum text NOT NULL,
                applied_at timestamptz NOT NULL DEFAULT now(),
                duration_ms integer NOT NULL DEFAULT 0
            )
            """), logger: logger)
        let statuses = try await status(on: connection, schema: schema, logger: logger)
        try Self.refuseChanged(statuses, migrations: migrations)
        let pendingVersions = Set(statuses.filter { $0.state == .pending }.map(\.version))
        var applied: [Migration] = []
        for migration in migrations where pendingVersions.contains(migration.version) {
            let statements = try SQLScript.statements(in: migration.sql)
            let started = ContinuousClock.now
            do {
                try await connection.withTransaction(logger: logger) { tx in
                    // The pool already starts every connection on this path; said again so that a migration's
                    // unqualified names cannot land elsewhere whatever connection runs it.
                    try await tx.query(PostgresQuery(unsafeSQL: "SET LOCAL search_path TO \(schema.quoted)"), logger: logger)
                    for statement in statements {
                        try await tx.query(PostgresQuery(unsafeSQL: statement), logger: logger)
                    }
                    let elapsed = ContinuousClock.now - started
                    let milliseconds = Int(elapsed.components.seconds * 1000 + elapsed.components.attoseconds / 1_000_000_000_000_000)
                    try await tx.query(
                        """
                        INSERT INTO \(unescaped: table) (version, name, checksum, duration_ms)
                        VALUES (\(migration.version), \(migration.name), \(migration.checksum), \(milliseconds))
                        """, logger: logger)
                }
            } catch {
                throw StoreError(
                    code: "migration_failed",
                    message: "migration `\(migration.fileName)` failed and was rolled back: \(describeDatabaseError(error))")
            }
            logger.info("applied migration", metadata: ["migration": "\(migration.fileName)"])
            applied.append(migration)
        }
        return applied
    }

    private func status(
        on connection: PostgresConnection, schema: SchemaName, logger: Logger
    ) async throws -> [MigrationStatus] {
        let table = schema.qualified("schema_migrations")
        let exists = try await connection.query("SELECT to_regclass(\(table)) IS NOT NULL", logger: logger)
        var tableExists = false
        for try await value in exists.decode(Bool.self) { tableExists = value }
        var recorded: [Int: (name: String, checksum: String, at: Date)] = [:]
        if tableExists {
            let rows = try await connection.query(
                PostgresQuery(unsafeSQL: "SELECT version, name, checksum, applied_at FROM \(table) ORDER BY version"),
                logger: logger)
            for try await (version, name, checksum, at) in rows.decode((Int, String, String, Date).self) {
                recorded[version] = (name, checksum, at)
            }
        }
        var statuses: [MigrationStatus] = migrations.map { migration in
            guard let row = recorded[migration.version] else {
                return MigrationStatus(version: migration.version, name: migration.name, state: .pending)
            }
            if row.checksum != migration.checksum {
                return MigrationStatus(
                    version: migration.version, name: migration.name,
                    state: .changed(recorded: row.checksum, file: migration.checksum))
            }
            return MigrationStatus(version: migration.version, name: migration.name, state: .applied(at: row.at))
        }
        let known = Set(migrations.map(\.version))
        for (version, row) in recorded.sorted(by: { $0.key < $1.key }) where !known.contains(version) {
            statuses.append(MigrationStatus(version: version, name: row.name, state: .unknownToThisBuild))
        }
        return statuses
    }

    private static func refuseChanged(_ statuses: [MigrationStatus], migrations: [Migration]) throws(StoreError) {
        for status in statuses {
            if case .changed = status.state {
                let file = migrations.first { $0.version == status.version }?.fileName ?? "\(status.version)"
                throw StoreError(
                    code: "migration_checksum_mismatch",
                    message: "migration `\(file)` was changed after it was applied (its checksum differs from the one recorded); restore the file and add a new migration instead")
            }
        }
    }
}
