import AirlockCore
import AirlockServer
import AirlockStore
import AirlockTestSupport
import Foundation
import Testing

/// Issue 11 item 8: a connection to a remote host weaker than `verify-full` is warned of at every start, naming
/// the database or resource and never a password. Nothing here connects: the broker is built, not run, so no
/// address outside 127.0.0.0/8 is ever contacted.
@Suite("Transport security at start")
struct TransportSecurityTests {
    static let databasePassword = "db-Secret-71f3"
    static let adminPassword = "admin-Secret-9d2e"

    /// A configuration on `url`, with a policy directory holding `resources`.
    static func configuration(url: String, resources: String, logs: CapturedLogs) throws -> ServerConfiguration {
        var config = try ServerSupport.configuration(url: try DatabaseURL(url))
        let directory = ServerSupport.writePolicies("""
            permit "sre-readonly" when "sre" in principal.groups and request.role == "readonly" ttl <= 30m;
            """)
        try Data(resources.utf8).write(to: URL(fileURLWithPath: directory).appendingPathComponent("resources.json"))
        config.settings.policiesDirectory = directory
        config.environment = ["ADMIN_PASSWORD": adminPassword]
        config.logger = logs.logger()
        return config
    }

    static func resources(_ targets: [(id: String, host: String, extra: String)]) -> String {
        let entries = targets.map { target in
            """
            {"id": "\(target.id)", "kind": "postgres", "env": "prod",
             "postgres": {"host": "\(target.host)", "port": 5432, "database": "orders", "admin_user": "airlock_admin",
                          "admin_password_env": "ADMIN_PASSWORD"\(target.extra)},
             "roles": {"readonly": {"grants": [{"privileges": ["USAGE"], "object": "schema", "schema": "public"}]}}}
            """
        }
        return #"{"resources": ["# + entries.joined(separator: ",\n") + "]}"
    }

    /// Fails on the code before the fix: nothing was logged.
    @Test("a remote database or target with a weaker sslmode is warned of at start, without its password")
    func relaxedRemoteConnectionsAreWarned() throws {
        let logs = CapturedLogs()
        let config = try Self.configuration(
            url: "postgres://broker:\(Self.databasePassword)@db.example.internal:5432/airlock?sslmode=disable",
            resources: Self.resources([
                ("orders-db", "orders.example.internal", #", "sslmode": "require""#),
                ("strict-db", "strict.example.internal", ""),
                ("local-db", "127.0.0.1", #", "sslmode": "disable""#),
            ]),
            logs: logs)
        _ = try buildApplication(config: config)  // builds; nothing connects until the services run
        let warnings = logs.all.filter { $0.hasPrefix("warning") && $0.contains("sslmode") }
        #expect(warnings.contains { $0.contains("the broker's database") && $0.contains("db.example.internal:5432/airlock")
            && $0.contains("`disable`") }, "\(logs.text)")
        #expect(warnings.contains { $0.contains("resource `orders-db`") && $0.contains("`require`") }, "\(logs.text)")
        #expect(!warnings.contains { $0.contains("strict-db") || $0.contains("local-db") }, "\(warnings)")
        #expect(warnings.count == 2, "\(warnings)")
        #expect(!logs.text.contains(Self.databasePassword) && !logs.text.contains(Self.adminPassword))
    }

    @Test("the defaults and loopback settings start without a warning")
    func strictOrLocalIsQuiet() throws {
        let logs = CapturedLogs()
        let config = try Self.configuration(
            url: "postgres://broker:\(Self.databasePassword)@db.example.internal/airlock",
            resources: Self.resources([("strict-db", "strict.example.internal", ""), ("local", "localhost", #", "sslmode": "disable""#)]),
            logs: logs)
        _ = try buildApplication(config: config)
        #expect(!logs.all.contains { $0.hasPrefix("warning") && $0.contains("sslmode") }, "\(logs.text)")
    }

    @Test("an sslrootcert that cannot be read stops the start, naming the setting")
    func unreadableRootCertificate() throws {
        let directory = try TemporaryDirectory()
        let missing = directory.url.appendingPathComponent("missing.pem").path
        let logs = CapturedLogs()
        let database = try Self.configuration(
            url: "postgres://broker@db.example.internal/airlock?sslrootcert=\(missing)", resources: Self.resources([]),
            logs: logs)
        #expect { _ = try buildApplication(config: database) } throws: { error in
            (error as? ConfigurationError)?.key == "database.url"
        }
        let empty = try directory.write("empty.pem", "not a certificate\n")
        let target = try Self.configuration(
            url: "postgres://broker@127.0.0.1/airlock",
            resources: Self.resources([("orders-db", "orders.example.internal", #", "sslrootcert": "\#(empty)""#)]),
            logs: logs)
        #expect { _ = try buildApplication(config: target) } throws: { error in
            (error as? ConfigurationError)?.key == "resources.orders-db.postgres.sslrootcert"
        }
        let good = try TestCertificates.write(TestCertificates.authority, named: "ca.pem", in: directory.url)
        _ = try buildApplication(config: try Self.configuration(
            url: "postgres://broker@db.example.internal/airlock?sslrootcert=\(good)",
            resources: Self.resources([("orders-db", "orders.example.internal", #", "sslrootcert": "\#(good)""#)]),
            logs: logs))
    }
}
