import AirlockLocalCluster
import AirlockStore
import AirlockTestSupport
import Foundation
import PostgresNIO
import Testing
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// Fault suite (issue 11): brokers as real `airlock serve` processes killed with SIGKILL.
///
/// - killed between the target's `CREATE ROLE` and the lease's activation: another broker finds the login and drops
///   it at once; nothing active without a lease, nothing leased without a login;
/// - three brokers on one database, one killed while it holds revocation claims: every lease revoked exactly once,
///   and on time.
@Suite(.serialized)
struct BrokerCrashTests {
    @Test("a broker killed between CREATE ROLE and activation: the login is found and dropped", .timeLimit(.minutes(3)))
    func killedBetweenCreateRoleAndActivation() async throws {
        let setup = try await CrashSetup.make()
        let first = try await setup.startBroker()
        defer { first.stop() }

        // Hold the target's CREATE ROLE (it needs a lock on pg_authid that this transaction holds) and ask.
        let target = try await setup.connect(to: setup.target)
        defer { Task { try? await target.close() } }
        try await target.query("BEGIN", logger: TestDatabase.logger)
        try await target.query("LOCK TABLE pg_catalog.pg_authid IN EXCLUSIVE MODE", logger: TestDatabase.logger)
        let pickup = Task { try? await first.askAndPickUp(token: setup.token, ttl: 600) }

        // The lease's intent is written before anything happens on the target.
        var lease: UUID?
        for _ in 0..<150 where lease == nil {
            lease = try await setup.broker.one(
                "SELECT id FROM leases WHERE status = 'issuing' LIMIT 1", as: UUID.self)
            if lease == nil { try await Task.sleep(for: .milliseconds(100)) }
        }
        let leaseID = try #require(lease, "no lease intent; broker stderr: \(first.process.errors)")
        // Hold the lease row so the activation waits, then let CREATE ROLE through.
        let brokerSide = try await setup.connect(to: setup.broker)
        defer { Task { try? await brokerSide.close() } }
        try await brokerSide.query("BEGIN", logger: TestDatabase.logger)
        try await brokerSide.query("SELECT 1 FROM leases WHERE id = \(leaseID) FOR UPDATE", logger: TestDatabase.logger)
        try await target.query("COMMIT", logger: TestDatabase.logger)

        let comment = "airlock lease \(leaseID.uuidString.lowercased())"
        var login: String?
        for _ in 0..<150 where login == nil {
            login = try await setup.target.one("""
                SELECT rolname FROM pg_roles WHERE shobj_description(oid, 'pg_authid') = \(comment)
                """, as: String.self)
            if login == nil { try await Task.sleep(for: .milliseconds(100)) }
        }
        let username = try #require(login, "the login was not created")
        // The activation is now waiting on the lease row: kill the broker there.
        var waiting: Int64 = 0
        for _ in 0..<100 where waiting == 0 {
            waiting = try await setup.broker.one("""
                SELECT count(*)::int8 FROM pg_stat_activity WHERE datname = current_database()
                    AND wait_event_type = 'Lock' AND query ILIKE '%UPDATE access_requests%'
                """, as: Int64.self) ?? 0
            if waiting == 0 { try await Task.sleep(for: .milliseconds(100)) }
        }
        #expect(waiting == 1, "the activation is not waiting on the lease row")
        // SIGKILL itself (`Running.kill()` sends SIGTERM first: a broker shutting down gracefully is still alive,
        // and once its activation fails it rightly revokes the login and abandons the lease by itself).
        Foundation.kill(first.process.process.processIdentifier, SIGKILL)
        #expect(try await first.process.wait(upTo: .seconds(10)) != nil, "the broker survived SIGKILL")
        // PostgreSQL does not notice a dead client while its statement waits on a lock: end that session as the
        // server would on its next read, so the activation never happens (as if the broker died before sending it).
        _ = try await setup.broker.one("""
            SELECT count(pg_terminate_backend(pid))::int8 FROM pg_stat_activity WHERE datname = current_database()
                AND wait_event_type = 'Lock' AND query ILIKE '%UPDATE access_requests%'
            """, as: Int64.self)
        try await brokerSide.query("ROLLBACK", logger: TestDatabase.logger)
        _ = await pickup.value
        #expect(try await setup.broker.one("SELECT status FROM leases WHERE id = \(leaseID)", as: String.self) == "issuing")

        // Another broker starts: the lease's issuer is gone, so it revokes at once what that broker may have made.
        let second = try await setup.startBroker()
        defer { second.stop() }
        var status = ""
        for _ in 0..<300 where status != "revoked" && status != "expired" {
            status = try await setup.broker.one("SELECT status FROM leases WHERE id = \(leaseID)", as: String.self) ?? ""
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(status == "revoked", "the abandoned issuance was not revoked (\(status)); stderr: \(second.process.errors)")
        #expect(try await setup.target.one(
            "SELECT count(*)::int8 FROM pg_roles WHERE rolname = \(username)", as: Int64.self) == 0,
            "the login outlived its abandoned lease")
        #expect(try await setup.broker.one(
            "SELECT revoke_reason FROM leases WHERE id = \(leaseID)", as: String.self) == "issuance_incomplete")
        #expect(try await setup.broker.one(
            "SELECT count(*)::int8 FROM leases WHERE status = 'active'", as: Int64.self) == 0,
            "a lease is active without its login")
    }

    @Test("three brokers, one killed holding revocation claims: each lease revoked exactly once, on time",
          .timeLimit(.minutes(4)))
    func threeBrokersOneKilled() async throws {
        let setup = try await CrashSetup.make()
        let admin = try await TestDatabase.serverURL()
        let proxy = try FaultProxy(upstreamPort: admin.port)
        defer { proxy.stop() }
        let brokers = [
            try await setup.startBroker(),
            try await setup.startBroker(),
            try await setup.startBroker(targetPort: proxy.port),  // the one to kill reaches the target through the proxy
        ]
        defer { for broker in brokers { broker.stop() } }
        let doomed = brokers[2]

        // Two waves of leases: the first expires while only the doomed broker sweeps (the others are paused), and
        // its calls to the target hang, so it holds their claims when it is killed; the second expires afterwards.
        var firstWave: [UUID] = []
        var secondWave: [UUID] = []
        for index in 0..<6 {
            firstWave.append(try await brokers[index % 3].askAndPickUp(token: setup.token, ttl: 6))
        }
        for index in 0..<6 {
            secondWave.append(try await brokers[index % 3].askAndPickUp(token: setup.token, ttl: 10))
        }
        brokers[0].signal(SIGSTOP)
        brokers[1].signal(SIGSTOP)
        proxy.set(.stall)
        let expiry = try #require(try await setup.broker.one(
            "SELECT max(expires_at) FROM leases WHERE id = ANY(\(firstWave))", as: Date.self))
        var claimed: Int64 = 0
        let deadline = ContinuousClock.now + .seconds(20)
        while claimed < Int64(firstWave.count), ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(100))
            claimed = try await setup.broker.one("""
                SELECT count(*)::int8 FROM leases WHERE id = ANY(\(firstWave)) AND status = 'revoking'
                    AND claimed_by IS NOT NULL
                """, as: Int64.self) ?? 0
        }
        #expect(claimed == Int64(firstWave.count), "the doomed broker claimed only \(claimed) leases")
        #expect(Date() >= expiry)
        doomed.signal(SIGKILL)
        _ = try await doomed.process.wait(upTo: .seconds(10))
        brokers[0].signal(SIGCONT)
        brokers[1].signal(SIGCONT)

        let all = firstWave + secondWave
        var ended: Int64 = 0
        let waitEnd = ContinuousClock.now + .seconds(60)
        while ended < Int64(all.count), ContinuousClock.now < waitEnd {
            try await Task.sleep(for: .milliseconds(200))
            ended = try await setup.broker.one(
                "SELECT count(*)::int8 FROM leases WHERE id = ANY(\(all)) AND status = 'expired'", as: Int64.self) ?? 0
        }
        #expect(ended == Int64(all.count), "only \(ended) of \(all.count) leases were revoked")

        let rows = try await setup.broker.rows("""
            SELECT l.id, l.username, extract(epoch FROM l.revoked_at - l.expires_at)::float8,
                (SELECT count(*)::int8 FROM audit_events e WHERE e.type = 'airlock.credential.revoked'
                    AND e.subject = l.id::text)
            FROM leases l WHERE l.id = ANY(\(all))
            """, as: (UUID, String?, Double?, Int64).self)
        for (id, username, lateness, revocations) in rows {
            #expect(revocations == 1, "lease \(id) revoked \(revocations) times")
            // On time: a claim of the dead broker is taken over as soon as its registration is stale (5 s).
            #expect((lateness ?? .infinity) < 15, "lease \(id) revoked \(lateness ?? -1) s after its expiry")
            let login = try #require(username)
            #expect(try await setup.target.one(
                "SELECT count(*)::int8 FROM pg_roles WHERE rolname = \(login)", as: Int64.self) == 0)
        }
    }
}

/// A broker database, a target database on the test cluster, a policy and resource directory and a service
/// token, for brokers run as `airlock serve` processes.
struct CrashSetup {
    let broker: DatabaseURL
    let target: DatabaseURL
    let policies: String
    let token: String

    static let masterKey = "akek1_" + String(repeating: "A", count: 43)

    static func make() async throws -> CrashSetup {
        let admin = try await TestDatabase.serverURL()
        let suffix = String(UInt32.random(in: 0...UInt32.max), radix: 36)
        let target = admin.with(database: "crash_\(suffix)")
        try await TestDatabase.run([
            "CREATE DATABASE \(target.database)", "REVOKE CONNECT, TEMPORARY ON DATABASE \(target.database) FROM PUBLIC",
        ], on: admin.with(database: "postgres"))
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("airlock-crash-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try Data(#"permit "services" when "sre" in principal.groups ttl <= 1h;"#.utf8)
            .write(to: directory.appendingPathComponent("main.airlock"))
        try Data("""
            {"resources": [{"id": "orders-db", "kind": "postgres", "env": "prod", "owner": "payments", "sensitivity": 7,
              "postgres": {"host": "127.0.0.1", "port": "${T_PORT}", "database": "\(target.database)",
                           "admin_user": "${T_USER}", "admin_password_env": "T_PASSWORD", "sslmode": "disable"},
              "roles": {"readonly": {"grants": [{"privileges": ["USAGE"], "object": "schema", "schema": "public"}]}}}]}
            """.utf8).write(to: directory.appendingPathComponent("resources.json"))
        let broker = try await TestDatabase.fresh()
        let created = try await AirlockBinary.run(
            ["token", "create", "--database-url", broker.testURLString, "--scope", "service", "--group", "sre",
             "--name", "crash-test"],
            environment: ["AIRLOCK_MASTER_KEY": masterKey, "AIRLOCK_POLICIES_DIR": directory.path])
        let token = created.output.trimmingCharacters(in: .whitespacesAndNewlines)
        guard created.status == 0, token.hasPrefix("alk_") else {
            throw CrashSetupError(description: "token create failed: \(created.errors)")
        }
        return CrashSetup(broker: broker, target: target, policies: directory.path, token: token)
    }

    /// Starts `airlock serve` on a free port and waits until it is ready; the target through `targetPort`.
    func startBroker(targetPort: Int? = nil, environment extra: [String: String] = [:]) async throws -> BrokerProcess {
        let port = try FreePort.find()
        let process = try AirlockBinary.start(
            ["serve", "--database-url", broker.testURLString, "--listen", "127.0.0.1:\(port)"],
            environment: [
                "AIRLOCK_MASTER_KEY": Self.masterKey, "AIRLOCK_POLICIES_DIR": policies, "AIRLOCK_LOG_LEVEL": "warning",
                "AIRLOCK_DATABASE_MAX_CONNECTIONS": "5",
                "T_PORT": "\(targetPort ?? target.port)", "T_USER": target.username, "T_PASSWORD": target.password ?? "",
            ].merging(extra) { _, new in new })
        let running = BrokerProcess(process: process, address: "http://127.0.0.1:\(port)")
        guard try await DevCommandTests.waitForStatus(200, url: "\(running.address)/readyz", upTo: .seconds(60)) else {
            running.stop()
            throw CrashSetupError(description: "the broker did not become ready: \(process.errors)")
        }
        return running
    }

    func connect(to url: DatabaseURL) async throws -> PostgresConnection {
        try await PostgresConnection.connect(
            configuration: try url.connectionConfiguration(), id: 11, logger: TestDatabase.logger)
    }
}

struct CrashSetupError: Error, CustomStringConvertible {
    let description: String
}

/// One `airlock serve` process.
struct BrokerProcess {
    let process: AirlockBinary.Running
    let address: String

    /// Asks for `orders-db` readonly for `ttl` seconds and picks the credential up; the lease id.
    func askAndPickUp(token: String, ttl: Int) async throws -> UUID {
        let asked = try await call("POST", "/v1/access-requests", token: token, body: """
            {"resource": "orders-db", "role": "readonly", "ttl_seconds": \(ttl), "reason": "INC-11"}
            """)
        guard let id = asked["id"] as? String else { throw CrashSetupError(description: "ask failed: \(asked)") }
        let creds = try await call("GET", "/v1/access-requests/\(id)/credentials", token: token)
        guard let lease = (creds["lease_id"] as? String).flatMap(UUID.init(uuidString:)) else {
            throw CrashSetupError(description: "pickup failed: \(creds)")
        }
        return lease
    }

    func call(_ method: String, _ path: String, token: String, body: String? = nil) async throws -> [String: Any] {
        var request = URLRequest(url: try #require(URL(string: address + path)))
        request.httpMethod = method
        request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization")
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        request.timeoutInterval = 120
        if let body { request.httpBody = Data(body.utf8) }
        let (data, _) = try await URLSession.shared.data(for: request)
        return (try? JSONSerialization.jsonObject(with: data) as? [String: Any]) ?? [:]
    }

    func signal(_ signal: Int32) {
        if process.process.isRunning { kill(process.process.processIdentifier, signal) }
    }

    func stop() {
        signal(SIGCONT)
        process.kill()
    }
}

extension DatabaseURL {
    /// The first column of the first row of `sql`, or nil when there is no row (or it is NULL).
    func one<T: PostgresDecodable & Sendable>(
        _ sql: PostgresQuery, as type: T.Type
    ) async throws -> T? where T._DecodableType == T {
        try await TestDatabase.withExisting(self) { database in
            let rows = try await database.client.query(sql, logger: TestDatabase.logger)
            for try await value in rows.decode(T?.self) { return value }
            return nil
        }
    }

    /// Every row of `sql`, decoded as `types`.
    func rows<each T: PostgresDecodable & Sendable>(
        _ sql: PostgresQuery, as types: (repeat each T).Type
    ) async throws -> [(repeat each T)] {
        try await TestDatabase.withExisting(self) { database in
            let rows = try await database.client.query(sql, logger: TestDatabase.logger)
            var result: [(repeat each T)] = []
            for try await row in rows.decode((repeat each T).self) { result.append(row) }
            return result
        }
    }
}
