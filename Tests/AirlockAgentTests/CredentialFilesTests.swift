import AirlockAgent
import AirlockCore
import AirlockTestSupport
import Foundation
import Testing

/// The files a credential is handed over in: each format's text, mode 0600, replaced atomically, and a status file
/// that never holds the secret.
@Suite
struct CredentialFilesTests {
    static let lease = UUID(uuidString: "0f8fad5b-d9cb-469f-a165-70867728950e")!
    static let login = DeliveredCredential(
        secret: .postgres(host: "db.internal", port: 5432, database: "orders", username: "alk_orders_x1",
                          password: "pa:ss\\word'1", dsn: "postgresql://alk_orders_x1:pass@db.internal:5432/orders?sslmode=require"),
        leaseID: lease, expiresAt: Date(timeIntervalSince1970: 1_900_000_000))
    static let token = DeliveredCredential(
        secret: .token("alkc_secretToken123", scopes: ["payments:read"], audience: "payments-api"),
        leaseID: lease, expiresAt: Date(timeIntervalSince1970: 1_900_000_000))

    @Test("env, json, dsn and .pgpass for a login; env and dsn for a token; .pgpass refuses a token")
    func formats() throws {
        #expect(try CredentialFiles.text(.env, Self.login) == """
            PGHOST=db.internal
            PGPORT=5432
            PGDATABASE=orders
            PGUSER=alk_orders_x1
            PGPASSWORD='pa:ss\\word'\\''1'
            PGSSLMODE=require

            """)
        #expect(try CredentialFiles.text(.pgpass, Self.login) == "db.internal:5432:orders:alk_orders_x1:pa\\:ss\\\\word'1\n")
        #expect(try CredentialFiles.text(.dsn, Self.login) == "postgresql://alk_orders_x1:pass@db.internal:5432/orders?sslmode=require\n")
        let json = try JSONValue.parse(try #require(try CredentialFiles.text(.json, Self.login)))
        #expect(DeliveredCredential(json) == Self.login, "the JSON file reads back as the same credential")
        #expect(try CredentialFiles.text(.env, Self.token) == "AIRLOCK_CREDENTIAL_TOKEN=alkc_secretToken123\n")
        #expect(try CredentialFiles.text(.dsn, Self.token) == "alkc_secretToken123\n")
        #expect(throws: CredentialFiles.Failure.self) { try CredentialFiles.text(.pgpass, Self.token) }
        #expect(try CredentialFiles.text(.status, Self.login) == nil)
    }

    @Test("the status file names the lease, the login and the end, never the password")
    func statusHasNoSecret() throws {
        let text = CredentialFiles.status(
            name: "orders", state: .refused, credential: Self.login, message: "policy_denied",
            at: Date(timeIntervalSince1970: 1_899_999_000))
        let json = try JSONValue.parse(text)
        #expect(json["state"] == "refused" && json["username"] == "alk_orders_x1" && json["message"] == "policy_denied")
        #expect(json["lease_id"]?.stringValue == Self.lease.uuidString.lowercased())
        #expect(!text.contains("pa:ss") && !text.contains("pass@"))
        // After renewals the end is the renewed one, not the one at issue.
        let renewed = try JSONValue.parse(CredentialFiles.status(
            name: "orders", state: .refused, credential: Self.login, expiresAt: Date(timeIntervalSince1970: 1_900_000_600),
            message: nil, at: Date(timeIntervalSince1970: 1_899_999_000)))
        #expect(renewed["expires_at"] == .string(AuditTime.format(Date(timeIntervalSince1970: 1_900_000_600))))
    }

    @Test("written with mode 0600 whatever the umask, replacing the old file in one step, leaving no temporary file")
    func atomicPrivateWrite() throws {
        let directory = try TemporaryDirectory()
        let path = directory.url.appendingPathComponent("orders.env").path
        let previous = umask(0o000)
        defer { umask(previous) }
        try CredentialFiles.write("PGUSER=old\n", to: path)
        try CredentialFiles.write("PGUSER=new\n", to: path)
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "PGUSER=new\n")
        let mode = (try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? NSNumber)?.intValue
        #expect(mode == 0o600)
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.url.path) == ["orders.env"])
        CredentialFiles.remove(path)
        #expect(!FileManager.default.fileExists(atPath: path))
    }

    @Test("a directory that does not exist is a clear error naming the file, not its content")
    func unwritable() {
        do {
            try CredentialFiles.write("PGPASSWORD=secret-in-error\n", to: "/nonexistent-airlock/orders.env")
            Issue.record("wrote into a missing directory")
        } catch {
            #expect(error.description.contains("/nonexistent-airlock/orders.env") && !error.description.contains("secret-in-error"))
        }
        #expect(!CredentialFiles.writableDirectory(for: "/nonexistent-airlock/orders.env"))
    }

    @Test("the application's environment: no libpq variable of the parent, each credential's under its prefix")
    func applicationEnvironment() {
        let environment = ApplicationEnvironment.make(
            parent: ["PATH": "/usr/bin", "PGPASSFILE": "/tmp/evil", "PGHOSTADDR": "10.0.0.9", "HOME": "/home/app"],
            credentials: [("", Self.login), ("PAYMENTS_", Self.token)])
        #expect(environment["PATH"] == "/usr/bin" && environment["HOME"] == "/home/app")
        #expect(environment["PGPASSFILE"] == nil && environment["PGHOSTADDR"] == nil)
        #expect(environment["PGUSER"] == "alk_orders_x1" && environment["PGSSLMODE"] == "require")
        #expect(environment["PAYMENTS_AIRLOCK_CREDENTIAL_TOKEN"] == "alkc_secretToken123")
    }
}

/// `/healthz` and `/metrics` of the agent, from what it knows.
@Suite
struct AgentStatusTests {
    @Test("healthy only while every credential is held and not ended; metrics per credential with time to expiry")
    func healthAndMetrics() throws {
        let clock = TestClock()
        let status = AgentStatus(names: ["orders", "payments"], clock: clock)
        #expect(!status.health.healthy)
        let lease = UUID()
        status.update("orders") {
            $0.leaseID = lease
            $0.expiresAt = clock.now().addingTimeInterval(90)
            $0.renewed = 3
            $0.failures["unreachable"] = 2
        }
        status.update("payments") { $0.expiresAt = clock.now().addingTimeInterval(10) }
        #expect(status.health.healthy)
        let metrics = status.metrics
        #expect(metrics.contains("airlock_agent_credential_expiry_seconds{credential=\"orders\"} 90.000"))
        #expect(metrics.contains("airlock_agent_renewals_total{credential=\"orders\"} 3"))
        #expect(metrics.contains("airlock_agent_failures_total{credential=\"orders\",kind=\"unreachable\"} 2"))
        #expect(metrics.contains("airlock_agent_credential_valid{credential=\"payments\"} 1"))
        clock.advance(11)
        let health = status.health
        #expect(!health.healthy && health.json["status"] == "degraded")
        #expect(health.json["credentials"]?[1]?["valid"] == false)
        #expect(status.metrics.contains("airlock_agent_credential_expiry_seconds{credential=\"payments\"} 0.000"))
    }
}
