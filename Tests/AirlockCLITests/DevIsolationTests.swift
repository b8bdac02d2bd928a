import AirlockLocalCluster
import AirlockTestSupport
import Foundation
import PostgresNIO
import Testing

/// Against a real `airlock dev` (issue 10, item 18): `airlock exec` hands the child exactly the credential's PG*
/// variables, none of the parent's, and an issued login reaches its own database only, not `postgres`,
/// `template1`, the broker's database or another resource's.
struct DevIsolationTests {
    /// libpq variables a parent shell may hold, each able to send the credential elsewhere or change the connection.
    static let parentVariables = [
        "PGHOSTADDR": "127.0.0.9", "PGHOST": "db.invalid", "PGSERVICE": "elsewhere", "PGSERVICEFILE": "/tmp/pg_service.conf",
        "PGSYSCONFDIR": "/tmp", "PGPASSFILE": "/tmp/pgpass", "PGOPTIONS": "-c role=postgres", "PGSSLMODE": "require",
        "PGAPPNAME": "parent", "PGTARGETSESSIONATTRS": "read-only", "PGCONNECT_TIMEOUT": "1", "PGGSSENCMODE": "require",
        "PGREQUIRESSL": "1", "PGCLIENTENCODING": "LATIN1", "PGPORT": "1", "PGUSER": "postgres", "PGDATABASE": "postgres",
    ]

    @Test(.timeLimit(.minutes(3)))
    func execEnvironmentAndDatabaseIsolation() async throws {
        let dev = try await DevBroker.start()
        defer { dev.stop() }
        let (env, home) = (dev.environment, dev.home)
        let login = try await AirlockBinary.run(["login", "--dev", "alice", "--groups", "sre", "--mfa"], environment: env)
        #expect(login.status == 0, "\(login.errors)")
        let request = try await AirlockBinary.run(ClientCommandTests.ask, environment: env)
        #expect(request.status == 0 && request.output.contains("approved"), "\(request.output)\(request.errors)")
        let id = try #require(request.output.split(separator: " ").dropFirst().first.map(String.init))

        let file = home + "/child-environment"
        let exec = try await AirlockBinary.run(
            ["exec", id, "--", "sh", "-c", "env > \(file)"], environment: env.merging(Self.parentVariables) { $1 })
        #expect(exec.status == 0, "\(exec.errors)")
        var child: [String: String] = [:]
        for line in try String(contentsOfFile: file, encoding: .utf8).split(separator: "\n") {
            guard let equals = line.firstIndex(of: "=") else { continue }
            child[String(line[..<equals])] = String(line[line.index(after: equals)...])
        }
        let libpq = child.filter { $0.key.hasPrefix("PG") }
        #expect(Set(libpq.keys) == ["PGHOST", "PGPORT", "PGDATABASE", "PGUSER", "PGPASSWORD", "PGSSLMODE"], "\(libpq.keys.sorted())")
        #expect(libpq["PGHOST"] == "127.0.0.1" && libpq["PGDATABASE"] == "orders_staging")
        #expect(libpq["PGSSLMODE"] == "disable")  // the broker's sslmode for the dev targets, not the parent's
        #expect(libpq["PGUSER"]?.hasPrefix("airlock_readonly_") == true)
        #expect(child["AIRLOCK_TOKEN"] == nil)

        let user = try #require(libpq["PGUSER"])
        let password = try #require(libpq["PGPASSWORD"])
        let targetPort = try #require(libpq["PGPORT"].flatMap { Int($0) })
        func failure(_ database: String) async -> String? {
            var configuration = PostgresConnection.Configuration(
                host: "127.0.0.1", port: targetPort, username: user, password: password, database: database, tls: .disable)
            configuration.options.connectTimeout = .seconds(30)
            do {
                let connection = try await PostgresConnection.connect(configuration: configuration, id: 1, logger: TestDatabase.logger)
                try await connection.query("SELECT 1", logger: TestDatabase.logger)
                try await connection.close()
                return nil
            } catch {
                return (error as? PSQLError)?.serverInfo?[.sqlState] ?? "\(String(reflecting: error))"
            }
        }
        #expect(await failure("orders_staging") == nil)
        for database in ["postgres", "template1", "airlock", "orders"] {
            #expect(await failure(database) == "42501", "an issued login connected to `\(database)`")
        }

        dev.running.process.interrupt()
        #expect(try await dev.running.wait(upTo: .seconds(60)) == 0, "stderr: \(dev.running.errors)")
    }
}
