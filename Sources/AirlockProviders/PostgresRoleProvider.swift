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
/// privilege: membership (with INHERIT) in the group role of its resource and template, and the comment
/// `airlock lease <id>`. The group role (``PostgresRoleNames/groupRole(resourceID:template:database:)``, NOLOGIN)
/// holds CONNECT on the resource's database only and the template's grants;
/// ``prepareGroupRole(resource:role:force:)`` keeps it in step with the template and takes away whatever it holds
/// on any other database of the cluster.
///
/// What is the lease's to extend or drop is decided by the lease's own record: the login named on the lease, and
/// only if it carries the lease's comment (or, for an issuance that never recorded a name, the role that carries
/// it). A role's name alone never makes it Airlock's.
///
/// The provider keeps one small pool per target, created on first use. It is a `Service`: run it (in the
/// application's `ServiceGroup`, or in a task group in tests) for as long as it is used; calls made before
/// ``run()`` starts wait for it.
public final class PostgresRoleProvider: Service, Sendable {

    let logger: Logger
    private let pools: TargetPools
    private let operationTimeout: Duration
    private let prepared = Mutex<[String: Task<GroupRolePreparation, any Error>]>([:])
    private let startupResources = Mutex<[Resource]>([])
    /// The batched revocation steps of each target (``RevocationBatches``), created on first use.
    let revocationBatchers = Mutex<[[String]: RevocationBatches]>([:])

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

    /// Runs the targets' pools until the task is cancelled or the service group shuts down gracefully, and
    /// meanwhile checks the clusters of the resources given to ``checkAtStart(_:)``.
    public func run() async throws {
        let resources = startupResources.withLock { $0 }
        try await withThrowingTaskGroup(of: Void.self) { group in
            if !resources.isEmpty {
                group.addTask { await self.checkClusters(of: resources) }
            }
            defer { group.cancelAll() }
            try await pools.run()
        }
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
            groupRole: try PostgresStatements.groupRoleName(
                resourceID: resource.id, template: template.name, database: target.database),
            comment: try PostgresStatements.groupRoleComment(
                resourceID: resource.id, template: template.name, database: target.database),
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
            sslMode: target.sslMode.rawValue, expiresAt: validUntil, leaseID: leaseID)
    }

    /// The login issued under `leaseID`, found by the `COMMENT ON ROLE` every issued login carries: for a lease
    /// whose issuance did not complete (the broker stopped between `CREATE ROLE` and recording the name). Nil when
    /// no such login exists.
    public func login(of leaseID: UUID, on resource: Resource) async throws -> String? {
        let target = try Self.target(of: resource)
        let comment = try PostgresStatements.leaseComment(leaseID)
        let logger = self.logger
        return try await onConnection("find login", to: target) { connection in
            try await Self.roles(named: nil, orCommented: comment, on: connection, logger: logger).first { $0.isLeases }?.name
        }
    }

    /// Moves the `VALID UNTIL` of the login issued for `leaseID` under the name `username` to `validUntil` (a
    /// renewed lease).
    ///
    /// - Throws: ``ProviderError`` `not_this_leases_login` when the role `username` does not carry the lease's
    ///   comment (nothing is changed).
    public func extend(resource: Resource, leaseID: UUID, username: String, validUntil: Date) async throws {
        let target = try Self.target(of: resource)
        let comment = try PostgresStatements.leaseComment(leaseID)
        let statement = "ALTER ROLE \(try SQLIdentifier.quoted(username)) VALID UNTIL "
            + (try PostgresStatements.timestampLiteral(validUntil))
        let logger = self.logger
        let found = try await onConnection("check login", to: target) { connection in
            try await Self.roles(named: username, orCommented: comment, on: connection, logger: logger)
        }
        guard found.contains(where: { $0.name == username && $0.isLeases }) else {
            throw Self.notThisLeases(username, leaseID, exists: found.contains { $0.name == username })
        }
        try await execute([statement], on: target, what: "extend login")
    }

    /// Revokes the login of `leaseID`: NOLOGIN and out of its group role, terminate its sessions, drop what it
    /// owns in the target database (never handed to another role), drop the role. Idempotent ("does not exist" is success); every step is tried even when an
    /// earlier one fails, and the outcome lists the failures (retry until ``RevocationOutcome/isComplete``).
    ///
    /// The lease's login is the role named `username` (the name the lease recorded) if it carries the comment
    /// `airlock lease <leaseID>`, and any other role carrying that comment (an issuance that never recorded its
    /// name). Nothing else is touched, whatever its name looks like.
    ///
    /// - Throws: ``ProviderError`` `not_this_leases_login` when a role named `username` exists without the lease's
    ///   comment (it is left alone; the lease's revocation fails, and is retried, until someone looks), or when
    ///   `resource` is not a PostgreSQL resource. An unreachable target gives an outcome with every step failed.
    public func revoke(resource: Resource, leaseID: UUID, username: String?) async throws -> RevocationOutcome {
        let target = try Self.target(of: resource)
        let comment = try PostgresStatements.leaseComment(leaseID)
        let identifier = username ?? "lease \(leaseID.uuidString.lowercased())"
        let found: [FoundRole]
        do {
            found = try await revocationBatches(for: target).lookup.submit(RoleLookup(name: username, comment: comment))
        } catch {
            // Without knowing what is the lease's, nothing is touched; the revocation is retried.
            let reason = "cannot find the lease's login: \((error as? ProviderError)?.message ?? describeDatabaseError(error))"
            var outcome = RevocationOutcome(identifier: identifier, existed: true)
            for step in RevocationOutcome.Step.allCases { outcome.failures[step] = reason }
            logger.warning("postgres revocation incomplete", metadata: ["outcome": "\(outcome)", "resource": "\(resource.id)"])
            return outcome
        }
        if let username, found.contains(where: { $0.name == username && !$0.isLeases }) {
            throw Self.notThisLeases(username, leaseID, exists: true)
        }
        let logins = found.filter(\.isLeases).map(\.name)
        var outcome = RevocationOutcome(identifier: logins.isEmpty ? identifier : logins.joined(separator: ","), existed: !logins.isEmpty)
        for login in logins {
            let dropped = await drop(login, on: target)
            outcome.failures.merge(dropped.failures) { $0 + "; " + $1 }
            outcome.terminatedSessions += dropped.terminatedSessions
        }
        if outcome.isComplete {
            logger.info("revoked postgres login", metadata: ["username": "\(outcome.identifier)", "resource": "\(resource.id)"])
        } else {
            logger.warning("postgres revocation incomplete", metadata: ["outcome": "\(outcome)", "resource": "\(resource.id)"])
        }
        return outcome
    }

    /// What the start-up check found on one target cluster.
    public struct ClusterCheck: Sendable, Equatable {
        /// `host:port`.
        public var cluster: String
        /// Databases PUBLIC may connect to: every login Airlock issues on this cluster can connect there too.
        public var databasesOpenToPublic: [String]
        /// Why the cluster could not be checked (nil when it was).
        public var failure: String?
    }

    /// Checks, once per target cluster of `resources`, which databases PUBLIC may connect to, and logs a warning
    /// for each cluster where any may (or that could not be checked). ``run()`` does this at start for the
    /// resources given to ``checkAtStart(_:)``.
    ///
    /// A warning, not a refusal: the cluster's configuration is its operator's, a database created later opens the
    /// door again whatever a start-up check found, and a broker that refused to start while a target is down would
    /// take every other target with it. Group role preparation repeats the warning.
    @discardableResult
    public func checkClusters(of resources: [Resource]) async -> [ClusterCheck] {
        var seen: Set<String> = []
        var checks: [ClusterCheck] = []
        for resource in resources {
            guard let target = resource.postgres, seen.insert("\(target.host):\(target.port)").inserted else { continue }
            var check = ClusterCheck(cluster: "\(target.host):\(target.port)", databasesOpenToPublic: [])
            do {
                let logger = self.logger
                check.databasesOpenToPublic = try await onConnection("check databases", to: target) { connection in
                    try await connection.query(Self.openToPublicQuery, logger: logger)
                        .collect().map { try $0.decode(String.self) }
                }
            } catch {
                check.failure = (error as? ProviderError)?.message ?? describeDatabaseError(error)
            }
            if let failure = check.failure {
                logger.warning(
                    "could not check which databases of a target cluster PUBLIC may connect to",
                    metadata: ["cluster": "\(check.cluster)", "error": "\(failure)"])
            } else if !check.databasesOpenToPublic.isEmpty {
                let message: Logger.Message = """
                    PUBLIC may connect to these databases of a target cluster, so every login Airlock issues there \
                    can connect to them too: run REVOKE CONNECT, TEMPORARY ON DATABASE <name> FROM PUBLIC on each
                    """
                logger.warning(
                    message,
                    metadata: [
                        "cluster": "\(check.cluster)",
                        "databases": "\(check.databasesOpenToPublic.joined(separator: ","))",
                    ])
            }
            checks.append(check)
        }
        return checks
    }

    /// The resources whose clusters ``run()`` checks at start (``checkClusters(of:)``). Call before ``run()``.
    public func checkAtStart(_ resources: [Resource]) {
        startupResources.withLock { $0 = resources }
    }

    // MARK: - Internals

    private func applyGroupRole(_ sync: GroupRoleSync, target: PostgresTarget) async throws -> GroupRolePreparation {
        let logger = self.logger
        // Roles are cluster-wide while the advisory lock is per database: another database of the same cluster
        // (another broker's resource of the same id) may create the group role at the same moment. The second
        // attempt finds it and only brings its grants in step.
        var attempt = 0
        let result: GroupRolePreparation
        while true {
            attempt += 1
            do {
                result = try await onConnection("prepare group role", to: target) { connection in
                    try await connection.withTransaction(logger: logger) { connection in
                        try await sync.apply(on: connection, logger: logger)
                    }
                }
                break
            } catch let error as ProviderError where attempt < 3 && (error.code == "sqlstate_23505" || error.code == "sqlstate_42710") {
                continue
            }
        }
        if !result.databasesOpenToPublic.isEmpty {
            logger.warning(
                "PUBLIC may connect to these databases, so issued logins can too: revoke CONNECT from PUBLIC",
                metadata: ["databases": "\(result.databasesOpenToPublic.joined(separator: ","))", "host": "\(target.host)"])
        }
        return result
    }

    /// A role found by name or by comment, and whether it carries the lease's comment.
    struct FoundRole: Sendable {
        var name: String
        var isLeases: Bool
    }

    /// The role named `name` (if given) and every role commented `comment`, each with whether it carries it.
    private func roles(named name: String?, orCommented comment: String, on target: PostgresTarget) async throws -> [FoundRole] {
        let logger = self.logger
        return try await onConnection("check role", to: target) { connection in
            try await Self.roles(named: name, orCommented: comment, on: connection, logger: logger)
        }
    }

    private static func roles(
        named name: String?, orCommented comment: String, on connection: PostgresConnection, logger: Logger
    ) async throws -> [FoundRole] {
        try await connection.query(
            """
            SELECT r.rolname::text, coalesce(d.description = \(comment), false) FROM pg_catalog.pg_roles r
            LEFT JOIN pg_catalog.pg_shdescription d ON d.objoid = r.oid AND d.classoid = 'pg_catalog.pg_authid'::regclass
            WHERE r.rolname = \(name ?? "") OR d.description = \(comment)
            ORDER BY 1
            """, logger: logger
        ).collect().map { row in
            let (name, isLeases) = try row.decode((String, Bool).self)
            return FoundRole(name: name, isLeases: isLeases)
        }
    }

    private static func notThisLeases(_ username: String, _ leaseID: UUID, exists: Bool) -> ProviderError {
        let lease = leaseID.uuidString.lowercased()
        let name = SQLIdentifier.isValid(username) ? username : "(invalid name)"
        return ProviderError(
            code: "not_this_leases_login",
            message: exists
                ? "role \(name) does not carry the comment `airlock lease \(lease)`: it is not this lease's login, and Airlock leaves it alone"
                : "role \(name) does not exist")
    }

    /// The revocation steps for one login that is the lease's: in three round trips when nothing goes wrong
    /// (``dropAtOnce(_:role:on:)``), otherwise step by step, each tried even when an earlier one fails.
    private func drop(_ username: String, on target: PostgresTarget) async -> RevocationOutcome {
        if SQLIdentifier.isValid(username), let outcome = await dropAtOnce(username, on: target) {
            return outcome
        }
        return await dropStepByStep(username, on: target)
    }

    /// The steps of ``dropStepByStep(_:on:)`` in three round trips: NOLOGIN and the memberships taken away (one
    /// transaction, committed before the sessions end, so no new session can start), the sessions terminated, then
    /// what it owns and the role dropped (one transaction). Nil when the server refuses a step: the caller goes step
    /// by step (every step is idempotent), which says which step failed and why. A target that cannot be reached
    /// (or a step past its deadline) fails this step and the ones after it, without trying them again.
    ///
    /// Concurrent revocations on one target share these round trips (``RevocationBatches``): many logins per
    /// statement when many are due at once.
    private func dropAtOnce(_ username: String, on target: PostgresTarget) async -> RevocationOutcome? {
        var outcome = RevocationOutcome(identifier: username, existed: true)
        var step = RevocationOutcome.Step.disableLogin
        let batches = revocationBatches(for: target)
        do {
            try await batches.disable.submit(username)
            step = .terminateSessions
            outcome.terminatedSessions = try await batches.terminate.submit(username)
            step = .dropOwned
            try await batches.drop.submit(username)
            return outcome
        } catch let error as ProviderError where error.code.hasPrefix("sqlstate_") {
            return nil
        } catch {
            let message = (error as? ProviderError)?.message ?? describeDatabaseError(error)
            let failed = RevocationOutcome.Step.allCases.drop { $0 != step }
            for remaining in failed { outcome.failures[remaining] = message }
            return outcome
        }
    }

    /// The revocation steps for one login, one at a time.
    private func dropStepByStep(_ username: String, on target: PostgresTarget) async -> RevocationOutcome {
        var outcome = RevocationOutcome(identifier: username, existed: true)
        let role: String
        do {
            role = try SQLIdentifier.quoted(username)
        } catch {
            for step in RevocationOutcome.Step.allCases {
                outcome.failures[step] = "the lease's login has a name Airlock cannot quote (renamed?): drop it by hand"
            }
            return outcome
        }
        // What the login created is dropped, never handed to anyone: reassigned to the admin role (often a
        // superuser), a `SECURITY DEFINER` function or a view the login wrote would run with the admin's rights.
        // Its memberships go first, so that anything of it that survives a failed step (an object another role
        // made depend on it) holds no privilege in the meantime.
        let steps: [(RevocationOutcome.Step, [String])] = [
            (.disableLogin, ["ALTER ROLE \(role) NOLOGIN"]),
            (.terminateSessions, []),
            (.dropOwned, ["DROP OWNED BY \(role)"]),
            (.dropRole, ["DROP ROLE IF EXISTS \(role)"]),
        ]
        for (step, statements) in steps {
            do {
                switch step {
                case .terminateSessions:
                    outcome.terminatedSessions = try await terminateSessions(of: username, target: target)
                case .disableLogin:
                    try await execute(statements, on: target, what: step.rawValue)
                    try await revokeMemberships(of: username, target: target)
                case .dropRole:
                    do {
                        try await execute(statements, on: target, what: step.rawValue)
                    } catch let error as ProviderError where error.code == "sqlstate_2BP01" {
                        throw await ownedElsewhere(username, target: target) ?? error
                    }
                case .dropOwned:
                    try await execute(statements, on: target, what: step.rawValue)
                }
            } catch let error as ProviderError where error.code == "sqlstate_42704" {
                continue  // the role does not exist: nothing left to do for this step
            } catch {
                outcome.failures[step] = (error as? ProviderError)?.message ?? describeDatabaseError(error)
            }
        }
        return outcome
    }

    /// Takes from the login every role it is a member of (its group role), so it holds no privilege even before
    /// it is dropped.
    private func revokeMemberships(of username: String, target: PostgresTarget) async throws {
        let logger = self.logger
        let groups = try await onConnection("list memberships", to: target) { connection in
                try await connection.query(
                    """
                    SELECT g.rolname::text FROM pg_catalog.pg_auth_members m
                    JOIN pg_catalog.pg_roles g ON g.oid = m.roleid JOIN pg_catalog.pg_roles u ON u.oid = m.member
                    WHERE u.rolname = \(username) ORDER BY 1
                    """, logger: logger
                ).collect().map { try $0.decode(String.self) }
        }
        let login = try SQLIdentifier.quoted(username)
        var statements: [String] = []
        for group in groups {
            // A name Airlock cannot quote was not granted by Airlock; the login's drop takes it away regardless.
            guard let quoted = try? SQLIdentifier.quoted(group) else { continue }
            statements.append("REVOKE \(quoted) FROM \(login)")
        }
        if !statements.isEmpty { try await execute(statements, on: target, what: "revoke memberships") }
    }

    /// Why `username` cannot be dropped when it owns objects in other databases of the cluster (where
    /// `DROP OWNED` in the target's database does not reach): a failure naming them, or nil if it owns none.
    private func ownedElsewhere(_ username: String, target: PostgresTarget) async -> ProviderError? {
        let logger = self.logger
        let databases = try? await onConnection("find owned objects", to: target) { connection in
            try await connection.query(
                """
                SELECT DISTINCT d.datname::text FROM pg_catalog.pg_shdepend s
                JOIN pg_catalog.pg_roles r ON r.oid = s.refobjid AND s.refclassid = 'pg_catalog.pg_authid'::regclass
                JOIN pg_catalog.pg_database d ON d.oid = s.dbid
                WHERE r.rolname = \(username) AND d.datname <> current_database() ORDER BY 1
                """, logger: logger
            ).collect().map { try $0.decode(String.self) }
        }
        guard let databases, !databases.isEmpty else { return nil }
        return ProviderError(
            code: "sqlstate_2BP01",
            message: "drop role: the login owns objects or holds privileges in other databases of the cluster ("
                + databases.joined(separator: ", ") + "); run DROP OWNED BY \(username) in each, and Airlock's next "
                + "attempt drops the login")
    }

    private func terminateSessions(of username: String, target: PostgresTarget) async throws -> Int {
        let logger = self.logger
        return try await onConnection("terminate sessions", to: target) { connection in
                let rows = try await connection.query(
                    """
                    SELECT count(*) FILTER (WHERE pg_terminate_backend(pid, 5000))::int8 FROM pg_catalog.pg_stat_activity
                    WHERE usename = \(username) AND pid <> pg_backend_pid()
                    """,
                    logger: logger
                ).collect()
                return Int(try rows.first?.decode(Int64.self) ?? 0)
        }
    }

    /// Runs trusted statements (built from validated parts) in order on one pooled connection.
    func execute(_ statements: [String], on target: PostgresTarget, what: String) async throws {
        let logger = self.logger
        try await onConnection(what, to: target) { connection in
            for statement in statements {
                try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger)
            }
        }
    }

    /// A ``ProviderError`` for `error`: server errors get the code `sqlstate_<state>`. Never includes query text.
    private static func wrap(_ error: any Error, _ what: String) -> ProviderError {
        if let error = error as? ProviderError { return error }
        let code = databaseErrorState(error).map { "sqlstate_\($0)" } ?? "target_error"
        return ProviderError(code: code, message: "\(what): \(describeDatabaseError(error))")
    }

    /// Runs `body` on one pooled connection of `target`, bounded by ``operationTimeout`` from the moment it asks
    /// for the connection: past it the call is abandoned with a `timeout` ``ProviderError`` naming `what`, and the
    /// connection it held is closed. A query on a stalled server ignores cancellation; left alone it would hold its
    /// connection for good, and a few stalled calls would take the whole pool of the target with them.
    func onConnection<T: Sendable>(
        _ what: String, to target: PostgresTarget, _ body: @escaping @Sendable (PostgresConnection) async throws -> T
    ) async throws -> T {
        let held = HeldConnection()
        do {
            return try await withTimeout(operationTimeout) {
                do {
                    return try await self.pools.client(for: target).withConnection { connection in
                        held.hold(connection)
                        defer { held.release() }
                        return try await body(connection)
                    }
                } catch {
                    throw Self.wrap(error, what)
                }
            }
        } catch let error as TimeoutError {
            await held.closeAbandoned()
            throw ProviderError(code: "timeout", message: "\(what) did not finish within \(error.limit)")
        }
    }

    /// The databases of the cluster PUBLIC may connect to.
    static let openToPublicQuery: PostgresQuery =
        "SELECT datname::text FROM pg_catalog.pg_database WHERE datallowconn AND has_database_privilege('public', datname, 'CONNECT') ORDER BY 1"

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

/// The connection an ``PostgresRoleProvider`` call holds, so that a call abandoned at its deadline can close it.
private final class HeldConnection: Sendable {
    private let connection = Mutex<PostgresConnection?>(nil)

    func hold(_ connection: PostgresConnection) { self.connection.withLock { $0 = connection } }

    func release() { connection.withLock { $0 = nil } }

    /// Closes the connection still held by an abandoned call, and returns once it is closed (its query fails, and
    /// the pool replaces it rather than lend it again).
    func closeAbandoned() async {
        guard let abandoned = connection.withLock({ held -> PostgresConnection? in
            defer { held = nil }
            return held
        }) else { return }
        try? await abandoned.close()
    }
}
