import AirlockCore
import AirlockPostgres
import Foundation
import Logging
import PostgresNIO
import ServiceLifecycle
import Synchronization

/// Issues real PostgreSQL login roles for `postgres` resources and revokes them.
///
/// Each issued login is `airlock_<template>_<random>` with a 40-character random password (sent to PostgreSQL
/// only as a SCRAM-SHA-256 verifier of the target's ``PostgresTarget/scramIterations``), `VALID UNTIL` the lease expiry, the target's `CONNECTION LIMIT`, and one
/// privilege: membership (with INHERIT) in the group role of its resource and template. The group role
/// (`airlock_g_<resource>_<template>`, NOLOGIN) holds CONNECT on the resource's database only and the template's
/// grants; ``prepareGroupRole(resource:role:force:)`` keeps it in step with the template.
///
/// The provider keeps one small pool per target, created on first use. It is a `Service`: run it (in the
/// application's `ServiceGroup`, or in a task group in tests) for as long as it is used; calls made before
/// ``run()`` starts wait for it.
public final class PostgresRoleProvider: Service, Sendable {

    private let logger: Logger
    private let pools: TargetPools
    private let operationTimeout: Duration
    private let prepared = Mutex<[String: Task<GroupRolePreparation, any Error>]>([:])

    /// Creates a provider. Nothing connects until a call needs a target.
    ///
    /// - Parameters:
    ///   - maximumConnectionsPerTarget: the size of each target's pool.
    ///   - operationTimeout: how long one operation (or one revocation step) may take before it fails.
    public init(logger: Logger, maximumConnectionsPerTarget: Int = 8, operationTimeout: Duration = .seconds(30)) {
        self.logger = logger
        self.pools = TargetPools(maximumConnections: max(1, maximumConnectionsPerTarget), logger: logger)
        self.operationTimeout = operationTimeout
    }

    /// Runs the targets' pools until the task is cancelled or the service group shuts down gracefully.
    public func run() async throws {
        try await pools.run()
    }

    /// Ensures the group role of `role` on `resource` exists and holds exactly the template's privileges.
    public func prepare(resource: Resource, role: String) async throws {
        _ = try await prepareGroupRole(resource: resource, role: role, force: false)
    }

    /// Ensures the group role of `role` on `resource` exists and holds exactly the template's privileges:
    /// creates it if missing, grants what the template has, revokes what it no longer has.
    ///
    /// Serialised across callers and replicas by a transaction-scoped advisory lock in the target database, and
    /// done at most once per process for each target, group role and template digest unless `force` is set
    /// (use `force` to pick up tables created since).
    @discardableResult
    public func prepareGroupRole(resource: Resource, role: String, force: Bool = false) async throws -> GroupRolePreparation {
        let (target, template) = try Self.lookup(resource, role)
        let sync = GroupRoleSync(
            groupRole: try PostgresStatements.groupRoleName(resourceID: resource.id, template: template.name),
            template: template, database: target.database)
        try sync.validate()
        let key = "\(target.host):\(target.port)/\(target.database)|\(sync.digest)"
        let task: Task<GroupRolePreparation, any Error> = prepared.withLock { tasks in
            if !force, let existing = tasks[key] { return existing }
            let task = Task { try await self.applyGroupRole(sync, target: target) }
            tasks[key] = task
            return task
        }
        do {
            return try await task.value
        } catch {
            prepared.withLock { tasks in
                if tasks[key] == task { tasks[key] = nil }
            }
            throw error
        }
    }

    /// Mints a login for `role` on `resource`, valid until `validUntil`, commented with the lease id.
    ///
    /// One `CREATE ROLE … IN ROLE <group>` statement creates the login with its membership, so concurrent mints
    /// never update the same catalog rows.
    public func mint(resource: Resource, role: String, leaseID: UUID, validUntil: Date) async throws -> PostgresCredential {
        let (target, template) = try Self.lookup(resource, role)
        let preparation = try await prepareGroupRole(resource: resource, role: role)
        let password = SecureRandom.base62(40)
        let verifier = try SCRAMVerifier(password: password, iterations: target.scramIterations)
        var username = try PostgresStatements.loginRoleName(template: template.name)
        for attempt in 1...3 {
            let create = try PostgresStatements.createLogin(
                username: username, verifier: verifier, validUntil: validUntil,
                connectionLimit: target.connectionLimit, groupRole: preparation.groupRole)
            let comment = try PostgresStatements.commentOnLogin(username: username, leaseID: leaseID)
            do {
                try await execute([try PostgresStatements.atomically([create, comment])], on: target, what: "create login")
                break
            } catch let error as ProviderError where error.code == "sqlstate_42710" && attempt < 3 {
                username = try PostgresStatements.loginRoleName(template: template.name)  // name taken: draw again
            } catch let error as ProviderError where error.code == "sqlstate_42704" && attempt < 3 {
                try await prepareGroupRole(resource: resource, role: role, force: true)  // group role vanished
            } catch {
                if (error as? ProviderError)?.code != "sqlstate_42710" {  // never drop a role someone else made
                    try? await execute(["DROP ROLE IF EXISTS \(try SQLIdentifier.quoted(username))"], on: target, what: "undo")
                }
                throw error
            }
        }
        logger.info("issued postgres login", metadata: ["username": "\(username)", "resource": "\(resource.id)"])
        return PostgresCredential(
            username: username, password: password, host: target.host, port: target.port, database: target.database,
            sslMode: target.sslMode, expiresAt: validUntil, leaseID: leaseID)
    }

    /// The login issued under `leaseID`, found by the `COMMENT ON ROLE` every issued login carries: for a lease
    /// whose issuance did not complete (the broker stopped between `CREATE ROLE` and recording the name). Nil when
    /// no such login exists.
    public func login(of leaseID: UUID, on resource: Resource) async throws -> String? {
        let target = try Self.target(of: resource)
        let comment = "airlock lease \(leaseID.uuidString.lowercased())"
        let logger = self.logger
        return try await withDeadline("find login") {
            do {
                let rows = try await self.pools.client(for: target).query(
                    """
                    SELECT r.rolname::text FROM pg_catalog.pg_roles r
                    JOIN pg_catalog.pg_shdescription d ON d.objoid = r.oid
                     AND d.classoid = 'pg_catalog.pg_authid'::regclass
                    WHERE d.description = \(comment)
                    """, logger: logger
                ).collect()
                return try rows.first?.decode(String.self)
            } catch {
                throw Self.wrap(error, "find login")
            }
        }
    }

    /// Moves the `VALID UNTIL` of the issued login `username` to `validUntil` (a renewed lease).
    public func extend(resource: Resource, username: String, validUntil: Date) async throws {
        let target = try Self.target(of: resource)
        guard PostgresStatements.isIssuedLogin(username) else {
            throw ProviderError(code: "not_an_issued_login", message: "refusing to alter a role Airlock did not issue")
        }
        let statement = "ALTER ROLE \(try SQLIdentifier.quoted(username)) VALID UNTIL "
            + (try PostgresStatements.timestampLiteral(validUntil))
        try await execute([statement], on: target, what: "extend login")
    }

    /// Revokes an issued login: NOLOGIN, terminate its sessions, hand over and drop what it owns in the target
    /// database, drop the role. Idempotent ("does not exist" is success); every step is tried even when an
    /// earlier one fails, and the outcome lists the failures (retry until ``RevocationOutcome/isComplete``).
    ///
    /// - Throws: ``ProviderError`` only when `username` is not a login Airlock issues or `resource` is not a
    ///   PostgreSQL resource; an unreachable target gives an outcome with every step failed.
    public func revoke(resource: Resource, username: String) async throws -> RevocationOutcome {
        let target = try Self.target(of: resource)
        guard PostgresStatements.isIssuedLogin(username) else {
            throw ProviderError(code: "not_an_issued_login", message: "refusing to revoke a role Airlock did not issue")
        }
        let role = try SQLIdentifier.quoted(username)
        var outcome = RevocationOutcome(identifier: username, existed: true)
        do {
            let rows = try await withDeadline("check role") {
                try await self.pools.client(for: target).query(
                    "SELECT count(*)::int8 FROM pg_catalog.pg_roles WHERE rolname = \(username)", logger: self.logger
                ).collect()
            }
            outcome.existed = try rows.first?.decode(Int64.self) != 0
        } catch {
            logger.debug("revocation: cannot check whether the role exists", metadata: ["error": "\(describeDatabaseError(error))"])
        }
        let steps: [(RevocationOutcome.Step, [String])] = [
            (.disableLogin, ["ALTER ROLE \(role) NOLOGIN"]),
            (.terminateSessions, []),
            (.dropOwned, ["REASSIGN OWNED BY \(role) TO CURRENT_USER", "DROP OWNED BY \(role)"]),
            (.dropRole, ["DROP ROLE IF EXISTS \(role)"]),
        ]
        for (step, statements) in steps {
            do {
                if step == .terminateSessions {
                    outcome.terminatedSessions = try await terminateSessions(of: username, target: target)
                } else {
                    try await execute(statements, on: target, what: step.rawValue)
                }
            } catch let error as ProviderError where error.code == "sqlstate_42704" {
                continue  // the role does not exist: nothing left to do for this step
            } catch {
                outcome.failures[step] = (error as? ProviderError)?.message ?? describeDatabaseError(error)
            }
        }
        if outcome.isComplete {
            logger.info("revoked postgres login", metadata: ["username": "\(username)", "resource": "\(resource.id)"])
        } else {
            logger.warning("postgres revocation incomplete", metadata: ["outcome": "\(outcome)", "resource": "\(resource.id)"])
        }
        return outcome
    }

    // MARK: - Internals

    private func applyGroupRole(_ sync: GroupRoleSync, target: PostgresTarget) async throws -> GroupRolePreparation {
        let logger = self.logger
        let result = try await withDeadline("prepare group role") {
            // Roles are cluster-wide while the advisory lock is per database: another database of the same cluster
            // (another broker's resource of the same id) may create the group role at the same moment. The second
            // attempt finds it and only brings its grants in step.
            for attempt in 1... {
                do {
                    return try await self.pools.client(for: target).withTransaction(logger: logger) { connection in
                        try await sync.apply(on: connection, logger: logger)
                    }
                } catch {
                    let state = databaseErrorState(error)
                    guard attempt < 3, state == "23505" || state == "42710" else { throw Self.wrap(error, "prepare group role") }
                }
            }
            throw ProviderError(code: "prepare_failed", message: "prepare group role: gave up")
        }
        if !result.databasesOpenToPublic.isEmpty {
            logger.warning(
                "PUBLIC may connect to these databases, so issued logins can too: revoke CONNECT from PUBLIC",
                metadata: ["databases": "\(result.databasesOpenToPublic.joined(separator: ","))", "host": "\(target.host)"])
        }
        return result
    }

    private func terminateSessions(of username: String, target: PostgresTarget) async throws -> Int {
        let logger = self.logger
        return try await withDeadline("terminate sessions") {
            do {
                let rows = try await self.pools.client(for: target).query(
                    """
                    SELECT count(*) FILTER (WHERE pg_terminate_backend(pid, 5000))::int8 FROM pg_catalog.pg_stat_activity
                    WHERE usename = \(username) AND pid <> pg_backend_pid()
                    """,
                    logger: logger
                ).collect()
                return Int(try rows.first?.decode(Int64.self) ?? 0)
            } catch {
                throw Self.wrap(error, "terminate sessions")
            }
        }
    }

    /// Runs trusted statements (built from validated parts) in order on one pooled connection.
    private func execute(_ statements: [String], on target: PostgresTarget, what: String) async throws {
        let logger = self.logger
        try await withDeadline(what) {
            do {
                try await self.pools.client(for: target).withConnection { connection in
                    for statement in statements {
                        try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger)
                    }
                }
            } catch {
                throw Self.wrap(error, what)
            }
        }
    }

    /// A ``ProviderError`` for `error`: server errors get the code `sqlstate_<state>`. Never includes query text.
    private static func wrap(_ error: any Error, _ what: String) -> ProviderError {
        if let error = error as? ProviderError { return error }
        let code = databaseErrorState(error).map { "sqlstate_\($0)" } ?? "target_error"
        return ProviderError(code: code, message: "\(what): \(describeDatabaseError(error))")
    }

    /// Runs `body` bounded by ``operationTimeout`` (even when it ignores cancellation), failing with a
    /// `timeout` ``ProviderError`` naming `what`.
    private func withDeadline<T: Sendable>(_ what: String, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
        do {
            return try await withTimeout(operationTimeout, body)
        } catch let error as TimeoutError {
            throw ProviderError(code: "timeout", message: "\(what) did not finish within \(error.limit)")
        }
    }

    private static func target(of resource: Resource) throws(ProviderError) -> PostgresTarget {
        guard let target = resource.postgres else {
            throw ProviderError(code: "invalid_resource", message: "resource \(resource.id) is not a postgres resource")
        }
        return target
    }

    private static func lookup(_ resource: Resource, _ role: String) throws(ProviderError) -> (PostgresTarget, RoleTemplate) {
        let target = try target(of: resource)
        guard let template = resource.roles[role], template.name == role else {
            let name = SQLIdentifier.isValid(role) ? role : "(invalid name)"
            throw ProviderError(code: "unknown_role", message: "resource \(resource.id) has no role template \(name)")
        }
        return (target, template)
    }
}
