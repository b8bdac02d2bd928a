import AirlockCore
import AirlockStore
import Foundation
import Logging
import PostgresNIO

/// The steps of `airlock bench revocation`: issue, hold sessions, move the expiries, watch the target until every
/// login is gone, check the broker's records, then time the raw drops.
enum BenchRevocationRun {
    struct Plan: Sendable {
        let leases: Int
        let window: Double
        let lead: Double
        let sessions: Int
        let concurrency: Int
    }

    /// One issued lease, held in memory only for the benchmark (the password opens its session).
    struct Issued: Sendable {
        let leaseID: UUID
        let login: BenchIssuanceLogin
    }

    static func measure(_ environment: BenchIssuanceEnvironment, plan: Plan) async throws -> BenchRevocationReport {
        benchNote("issuing \(plan.leases) leases ...")
        let issued = try await issue(environment, count: plan.leases, concurrency: plan.concurrency)
        let groupRole = try await groupRole(of: issued[0].login.username, environment)
        benchNote("opening \(plan.sessions) sessions ...")
        var held: [PostgresConnection] = []
        for lease in issued.prefix(plan.sessions) {
            held.append(try await open(lease.login, logger: environment.logger))
        }
        defer { for connection in held { Task { try? await connection.close() } } }

        benchNote("expiring them over \(plan.window) s, \(plan.lead) s from now ...")
        let expiries = try await moveExpiries(environment, issued.map(\.leaseID), lead: plan.lead, window: plan.window)
        let gone = try await watch(
            environment, names: issued.map(\.login.username), withSessions: Set(issued.prefix(plan.sessions).map(\.login.username)),
            deadline: Date().addingTimeInterval(plan.lead + plan.window + 600))
        var lags: [Double] = []
        var sessionLags: [Double] = []
        for (index, lease) in issued.enumerated() {
            guard let at = gone.done[lease.login.username] else { continue }
            lags.append(at.timeIntervalSince(expiries[index]) * 1_000)
            if let ended = gone.sessionEnded[lease.login.username] {
                sessionLags.append(ended.timeIntervalSince(expiries[index]) * 1_000)
            }
        }
        let lastDone = gone.done.values.max() ?? Date()
        let burst = lastDone.timeIntervalSince(expiries.min() ?? lastDone)
        benchNote("checking the broker's records ...")
        let records = try await records(environment, issued.map(\.leaseID))

        benchNote("raw: \(plan.leases) DROP ROLEs on 1 connection ...")
        let rawOne = try await BenchRevocationRaw.run(environment, groupRole: groupRole, count: plan.leases, connections: 1)
        benchNote("raw: \(plan.leases) DROP ROLEs on 8 connections ...")
        let rawEight = try await BenchRevocationRaw.run(environment, groupRole: groupRole, count: plan.leases, connections: 8)
        return BenchRevocationReport(
            plan: plan, lags: lags.sorted(), sessionLags: sessionLags.sorted(), burstSeconds: burst,
            records: records, raw: [rawOne, rawEight])
    }

    /// Issues `count` logins through `POST /v1/credentials`, `concurrency` callers at once, each a CI service.
    private static func issue(
        _ environment: BenchIssuanceEnvironment, count: Int, concurrency: Int
    ) async throws -> [Issued] {
        var tokens: [String] = []
        for worker in 0..<concurrency {
            tokens.append(try await environment.issuer.issueToken(
                user: "bench-revocation-\(worker)", groups: ["ci"], mfa: true, service: true, ttl: 3600))
        }
        return try await withThrowingTaskGroup(of: [Issued].self) { group in
            for worker in 0..<concurrency {
                let token = tokens[worker]
                let indices = Array(stride(from: worker, to: count, by: concurrency))
                group.addTask {
                    try await BenchIssuanceHTTP.withConnection(port: environment.port) { connection in
                        var issued: [Issued] = []
                        for _ in indices {
                            let ask: JSONValue = .object([
                                "resource": .string(BenchIssuanceAirlock.resource),
                                "role": .string(BenchIssuanceAirlock.role), "ttl_seconds": .int(1_800),
                            ])
                            let reply = try await connection.send(.POST, "/v1/credentials", token: token, body: ask)
                            guard reply.status == 201, let lease = reply.json["lease_id"]?.stringValue.flatMap({ UUID(uuidString: $0) }),
                                  let username = reply.json["username"]?.stringValue,
                                  let password = reply.json["password"]?.stringValue,
                                  let host = reply.json["host"]?.stringValue, let port = reply.json["port"]?.intValue,
                                  let database = reply.json["database"]?.stringValue
                            else {
                                let message = reply.json["error"]?["message"]?.stringValue ?? "unexpected answer"
                                throw BenchIssuanceError("POST /v1/credentials failed: HTTP \(reply.status): \(message)")
                            }
                            issued.append(Issued(leaseID: lease, login: BenchIssuanceLogin(
                                username: username, password: password, host: host, port: Int(port), database: database)))
                        }
                        return issued
                    }
                }
            }
            var all: [Issued] = []
            for try await part in group { all += part }
            return all
        }
    }

    /// A session as `login`, checked with one query.
    private static func open(_ login: BenchIssuanceLogin, logger: Logger) async throws -> PostgresConnection {
        let configuration = PostgresConnection.Configuration(
            host: login.host, port: login.port, username: login.username, password: login.password,
            database: login.database, tls: .disable)
        let connection = try await PostgresConnection.connect(configuration: configuration, id: 3, logger: logger)
        _ = try await connection.query("SELECT 1", logger: logger).collect()
        return connection
    }

    /// Sets the leases' expiry, in the broker's database, to `lead` seconds from now for the first and evenly
    /// `window` seconds later for the last; returns each lease's new expiry.
    private static func moveExpiries(
        _ environment: BenchIssuanceEnvironment, _ ids: [UUID], lead: Double, window: Double
    ) async throws -> [Date] {
        let start = Date().addingTimeInterval(lead)
        let step = ids.count > 1 ? window / Double(ids.count - 1) : 0
        let expiries = ids.indices.map { start.addingTimeInterval(Double($0) * step) }
        try await withConnection(environment, database: DemoData.brokerDatabase) { connection, logger in
            let rows = try await connection.query("""
                UPDATE leases l SET expires_at = v.expires_at
                FROM unnest(\(ids)::uuid[], \(expiries)::timestamptz[]) AS v(id, expires_at)
                WHERE l.id = v.id AND l.status = 'active'
                RETURNING l.id
                """, logger: logger).collect()
            guard rows.count == ids.count else {
                throw BenchIssuanceError("only \(rows.count) of \(ids.count) leases were still active to expire")
            }
        }
        return expiries
    }

    struct Gone {
        /// When each login was first seen gone: no role, no session.
        var done: [String: Date] = [:]
        /// When the held session of a login was first seen ended.
        var sessionEnded: [String: Date] = [:]
    }

    /// Polls the target cluster until every login in `names` is gone (role and sessions), or `deadline`. A login
    /// seen gone is dated by the end of the poll that saw it (it was gone by then; the lag is never understated).
    private static func watch(
        _ environment: BenchIssuanceEnvironment, names: [String], withSessions: Set<String>, deadline: Date
    ) async throws -> Gone {
        try await withConnection(environment, database: BenchIssuanceAirlock.targetDatabase) { connection, logger in
            var gone = Gone()
            var remaining = names
            while !remaining.isEmpty {
                guard Date() < deadline else {
                    throw BenchIssuanceError("\(remaining.count) logins were still there long after their expiry")
                }
                // Only the logins whose role is gone, each looked up by the catalog's index on the name (a
                // `rolname = ANY(names)` over 2,000 names compares them one by one, and fetching every role every
                // 5 ms costs a core: a watcher that heavy would slow the burst it measures).
                var roleGone = Set<String>()
                for try await name in try await connection.query("""
                    SELECT name FROM unnest(\(remaining)::text[]) AS name
                    WHERE NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = name)
                    """, logger: logger
                ).decode(String.self) { roleGone.insert(name) }
                let present = Set(remaining).subtracting(roleGone)
                var inSession = Set<String>()
                for try await name in try await connection.query(
                    "SELECT DISTINCT usename::text FROM pg_catalog.pg_stat_activity WHERE usename IS NOT NULL",
                    logger: logger
                ).decode(String.self) { inSession.insert(name) }
                // Dated when the poll has finished: what it did not see was gone by then (an upper bound).
                let polled = Date()
                for name in remaining where withSessions.contains(name) && !inSession.contains(name) {
                    if gone.sessionEnded[name] == nil { gone.sessionEnded[name] = polled }
                }
                remaining.removeAll { name in
                    guard !present.contains(name) && !inSession.contains(name) else { return false }
                    gone.done[name] = polled
                    return true
                }
                try await Task.sleep(for: .milliseconds(5))
            }
            return gone
        }
    }

    struct Records: Sendable {
        var expired = 0
        var revokedEvents = 0
        var expiredEvents = 0
    }

    /// Waits (at most 30 s) for every lease to be `expired`, then counts the events recorded for them.
    private static func records(_ environment: BenchIssuanceEnvironment, _ ids: [UUID]) async throws -> Records {
        let subjects = ids.map { $0.uuidString.lowercased() }
        return try await withConnection(environment, database: DemoData.brokerDatabase) { connection, logger in
            var records = Records()
            let deadline = ContinuousClock.now + .seconds(30)
            while ContinuousClock.now < deadline {
                let rows = try await connection.query(
                    "SELECT count(*)::int8 FROM leases WHERE id = ANY(\(ids)) AND status = 'expired'", logger: logger
                ).collect()
                records.expired = Int(try rows.first?.decode(Int64.self) ?? 0)
                if records.expired == ids.count { break }
                try await Task.sleep(for: .milliseconds(100))
            }
            let rows = try await connection.query("""
                SELECT count(*) FILTER (WHERE type = 'airlock.credential.revoked')::int8,
                       count(*) FILTER (WHERE type = 'airlock.lease.expired')::int8
                FROM audit_events WHERE subject = ANY(\(subjects))
                """, logger: logger).collect()
            if let row = rows.first {
                let (revoked, expired) = try row.decode((Int64, Int64).self)
                records.revokedEvents = Int(revoked)
                records.expiredEvents = Int(expired)
            }
            return records
        }
    }

    /// The group role `username` is a member of (the raw logins join the same one).
    private static func groupRole(of username: String, _ environment: BenchIssuanceEnvironment) async throws -> String {
        try await withConnection(environment, database: BenchIssuanceAirlock.targetDatabase) { connection, logger in
            let rows = try await connection.query("""
                SELECT g.rolname::text FROM pg_catalog.pg_auth_members m
                  JOIN pg_catalog.pg_roles g ON g.oid = m.roleid JOIN pg_catalog.pg_roles u ON u.oid = m.member
                 WHERE u.rolname = \(username)
                """, logger: logger).collect()
            guard rows.count == 1, let name = try rows.first?.decode(String.self) else {
                throw BenchIssuanceError("cannot find the group role of the issued logins")
            }
            return name
        }
    }

    /// Runs `body` on a superuser connection to `database` of the cluster.
    static func withConnection<Result: Sendable>(
        _ environment: BenchIssuanceEnvironment, database: String,
        _ body: (PostgresConnection, Logger) async throws -> Result
    ) async throws -> Result {
        let url = try environment.adminURL(database)
        let connection = try await PostgresConnection.connect(
            configuration: url.connectionConfiguration(), id: 4, logger: environment.logger)
        do {
            let result = try await body(connection, environment.logger)
            try await connection.close()
            return result
        } catch {
            try? await connection.close()
            throw error
        }
    }
}
