import AirlockCore
import AirlockPostgres
import Foundation
import Logging
import PostgresNIO

/// The name and comment by which a lease's login is found on its target.
struct RoleLookup: Sendable {
    /// The login the lease recorded, if any.
    let name: String?
    /// `airlock lease <id>`.
    let comment: String
}

/// The revocation steps of one target, each a ``Coalescer``: logins revoked at the same moment (a burst of leases
/// expiring together) share their round trips, up to ``maximumBatch`` logins per statement. A batched statement the
/// server refuses is run again for each login alone, so only the login at fault fails (and the caller's
/// step-by-step revocation says why); a target that cannot be reached fails them all.
final class RevocationBatches: Sendable {
    static let maximumBatch = 64

    /// The roles named, or commented, like each lease's login (``PostgresRoleProvider/FoundRole``).
    let lookup: Coalescer<RoleLookup, [PostgresRoleProvider.FoundRole]>
    /// NOLOGIN, and out of every role it is a member of.
    let disable: Coalescer<String, Void>
    /// Its sessions terminated; how many.
    let terminate: Coalescer<String, Int>
    /// What it owns in the target database dropped, then the role.
    let drop: Coalescer<String, Void>

    init(provider: PostgresRoleProvider, target: PostgresTarget) {
        let logger = provider.logger
        lookup = Coalescer(maximumBatch: Self.maximumBatch) { [weak provider] items in
            guard let provider else { return items.map { _ in .failure(Self.stopped) } }
            let names = items.compactMap(\.name), comments = items.map(\.comment)
            do {
                let rows = try await provider.onConnection("check role", to: target) { connection in
                    try await connection.query("""
                        SELECT r.rolname::text, d.description FROM pg_catalog.pg_roles r
                        LEFT JOIN pg_catalog.pg_shdescription d
                            ON d.objoid = r.oid AND d.classoid = 'pg_catalog.pg_authid'::regclass
                        WHERE r.rolname = ANY(\(names)) OR d.description = ANY(\(comments))
                        ORDER BY 1
                        """, logger: logger
                    ).collect().map { try $0.decode((String, String?).self) }
                }
                return items.map { item in
                    .success(rows.filter { $0.0 == item.name || $0.1 == item.comment }.map { row in
                        PostgresRoleProvider.FoundRole(name: row.0, isLeases: row.1 == item.comment)
                    })
                }
            } catch {
                return items.map { _ in .failure(error) }
            }
        }
        disable = Coalescer(maximumBatch: Self.maximumBatch) { [weak provider] usernames in
            guard let provider else { return usernames.map { _ in .failure(Self.stopped) } }
            return await Self.allOrEach(usernames, provider: provider, target: target, what: "disable login") {
                try PostgresStatements.disableLogins($0)
            }
        }
        terminate = Coalescer(maximumBatch: Self.maximumBatch) { [weak provider] usernames in
            guard let provider else { return usernames.map { _ in .failure(Self.stopped) } }
            do {
                let ended = try await provider.onConnection("terminate sessions", to: target) { connection in
                    try await Self.terminateSessions(of: usernames, on: connection, logger: logger)
                }
                return usernames.map { .success(ended[$0] ?? 0) }
            } catch {
                return usernames.map { _ in .failure(error) }
            }
        }
        drop = Coalescer(maximumBatch: Self.maximumBatch) { [weak provider] usernames in
            guard let provider else { return usernames.map { _ in .failure(Self.stopped) } }
            return await Self.allOrEach(usernames, provider: provider, target: target, what: "drop role") {
                try PostgresStatements.dropLogins($0)
            }
        }
    }

    /// How long the sessions of the logins being revoked are given to end once signalled (as
    /// `pg_terminate_backend(pid, 5000)` gives each).
    static let sessionsEndWithin = Duration.seconds(5)

    /// Signals every session of `usernames` at once, then waits (at most ``sessionsEndWithin``) for them to end:
    /// how many ended, per login. (`pg_terminate_backend(pid, 5000)` per session would wait for one after the other.)
    private static func terminateSessions(
        of usernames: [String], on connection: PostgresConnection, logger: Logger
    ) async throws -> [String: Int] {
        // The function runs only on the rows the materialized list holds: never on another role's session.
        let signalled = try await connection.query("""
            WITH s AS MATERIALIZED (
                SELECT usename::text AS usename, pid FROM pg_catalog.pg_stat_activity
                WHERE usename = ANY(\(usernames)) AND pid <> pg_backend_pid()
            )
            SELECT usename, pid, pg_terminate_backend(pid) FROM s
            """, logger: logger
        ).collect().map { try $0.decode((String, Int32, Bool).self) }.filter(\.2)
        var alive = signalled.map(\.1)
        let deadline = ContinuousClock.now + sessionsEndWithin
        while !alive.isEmpty && ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(2))
            alive = try await connection.query(
                "SELECT pid FROM pg_catalog.pg_stat_activity WHERE pid = ANY(\(alive))", logger: logger
            ).collect().map { try $0.decode(Int32.self) }
        }
        let stillThere = Set(alive)
        var ended: [String: Int] = [:]
        for (username, pid, _) in signalled where !stillThere.contains(pid) { ended[username, default: 0] += 1 }
        return ended
    }

    private static let stopped = ProviderError(code: "provider_stopped", message: "the PostgreSQL provider has stopped")

    /// Runs `statement` for all `usernames` at once; when the server refuses it, for each alone.
    private static func allOrEach(
        _ usernames: [String], provider: PostgresRoleProvider, target: PostgresTarget, what: String,
        statement: ([String]) throws -> String
    ) async -> [Result<Void, any Error>] {
        do {
            try await provider.execute([try statement(usernames)], on: target, what: what)
            return usernames.map { _ in .success(()) }
        } catch let error as ProviderError where usernames.count > 1 && error.code.hasPrefix("sqlstate_") {
            var results: [Result<Void, any Error>] = []
            for username in usernames {
                do {
                    try await provider.execute([try statement([username])], on: target, what: what)
                    results.append(.success(()))
                } catch {
                    results.append(.failure(error))
                }
            }
            return results
        } catch {
            return usernames.map { _ in .failure(error) }
        }
    }
}

extension PostgresRoleProvider {
    /// The batched revocation steps of `target`, made on first use.
    func revocationBatches(for target: PostgresTarget) -> RevocationBatches {
        let key = [
            target.host, String(target.port), target.database, target.sslMode.rawValue, target.sslRootCert ?? "",
            target.adminUser, target.adminPassword,
        ]
        return revocationBatchers.withLock { batches in
            if let existing = batches[key] { return existing }
            let made = RevocationBatches(provider: self, target: target)
            batches[key] = made
            return made
        }
    }
}
