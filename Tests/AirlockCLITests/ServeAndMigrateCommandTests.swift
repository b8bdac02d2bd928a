import AirlockStore
import AirlockTestSupport
import Foundation
import PostgresNIO
import Testing

/// The operator's commands as processes: concurrent migrations, refusing pending migrations, bad configuration,
/// and key generation that never leaks the key where it should not be.
struct ServeAndMigrateCommandTests {
    static let masterKeyEnvironment = [
        "AIRLOCK_MASTER_KEY": "akek1_" + String(repeating: "A", count: 43),
        "AIRLOCK_POLICIES_DIR": policiesDirectory,
    ]

    /// A policy directory with one rule and no resources file.
    static let policiesDirectory: String = {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("airlock-cli-policies-\(UUID().uuidString)")
        try? FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try? Data(#"permit "sre" when "sre" in principal.groups;"#.utf8).write(to: directory.appendingPathComponent("main.airlock"))
        return directory.path
    }()

    @Test(.timeLimit(.minutes(2)))
    func twoMigratesStartedTogetherBothSucceedAndApplyEachMigrationOnce() async throws {
        let url = try await TestDatabase.fresh(migrated: false)
        async let first = AirlockBinary.run(["migrate", "--database-url", url.testURLString])
        async let second = AirlockBinary.run(["migrate", "--database-url", url.testURLString])
        let results = try await [first, second]
        for result in results {
            #expect(result.status == 0, "stderr: \(result.errors)")
        }
        let files = try Migration.load(from: TestDatabase.migrationsDirectory)
        let applied = results.map(\.output).joined().components(separatedBy: "applied ").count - 1
        #expect(applied == files.count, "each migration applied by exactly one of the two: \(results.map(\.output))")
        let status = try await AirlockBinary.run(["migrate", "--status", "--database-url", url.testURLString])
        #expect(status.status == 0)
        #expect(!status.output.contains("pending"))
        #expect(status.output.components(separatedBy: "applied").count - 1 == files.count)
    }

    @Test(.timeLimit(.minutes(2)))
    func serveRefusesPendingMigrationsWithAClearMessage() async throws {
        let url = try await TestDatabase.fresh(migrated: false)
        let result = try await AirlockBinary.run(
            ["serve", "--database-url", url.testURLString, "--listen", "127.0.0.1:0"],
            environment: Self.masterKeyEnvironment, limit: .seconds(60))
        #expect(result.status == 1)
        #expect(result.errors.contains("pending migration"))
        #expect(result.errors.contains("airlock migrate"))
        #expect(!result.errors.contains(url.password ?? "no password"), "the database password leaked")
    }

    @Test(.timeLimit(.minutes(1)), arguments: [
        (["AIRLOCK_DATABASE_MAX_CONNECTIONS": "abc"], "database.max_connections"),
        (["AIRLOCK_LISTEN": "nowhere"], "listen"),
        (["AIRLOCK_LOG_LEVEL": "loud"], "log.level"),
        (["AIRLOCK_DATABASE_URL": "mysql://x@y/z"], "database.url"),
    ])
    func aBadValueStopsStartUpNamingTheSetting(environment: [String: String], key: String) async throws {
        var env = Self.masterKeyEnvironment.merging(environment) { $1 }
        env["AIRLOCK_DATABASE_URL"] = env["AIRLOCK_DATABASE_URL"] ?? "postgres://u@127.0.0.1:1/x"
        let result = try await AirlockBinary.run(["serve"], environment: env, limit: .seconds(30))
        #expect(result.status == 1)
        #expect(result.errors.contains("`\(key)`"), "stderr: \(result.errors)")
    }

    @Test(.timeLimit(.minutes(1)))
    func aMalformedMasterKeyIsRefusedWithoutEchoingIt() async throws {
        let secretish = "akek1_ThisLooksLikeAKeyButIsNot0123456789abcdef"
        let result = try await AirlockBinary.run(
            ["serve"], environment: ["AIRLOCK_MASTER_KEY": secretish, "AIRLOCK_DATABASE_URL": "postgres://u@127.0.0.1:1/x"],
            limit: .seconds(30))
        #expect(result.status == 1)
        #expect(result.errors.contains("AIRLOCK_MASTER_KEY"))
        #expect(!result.errors.contains("ThisLooksLikeAKey"))
        #expect(!result.output.contains("ThisLooksLikeAKey"))
    }

    @Test(.timeLimit(.minutes(1)))
    func keysGeneratePrintsTheKeyOnlyOnStdout() async throws {
        let result = try await AirlockBinary.run(["keys", "generate"])
        #expect(result.status == 0)
        let key = result.output.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(key.hasPrefix("akek1_") && key.count == 49)
        #expect(result.errors.contains("kek_"))
        #expect(!result.errors.contains(String(key.dropFirst(6))))
    }

    @Test(.timeLimit(.minutes(2)))
    func auditVerifyExitsNonZeroOnATamperedChain() async throws {
        let url = try await TestDatabase.fresh()
        let clean = try await AirlockBinary.run(["audit", "verify", "--database-url", url.testURLString])
        #expect(clean.status == 0, "stderr: \(clean.errors)")
        #expect(clean.output.contains("intact"))

        let event = #"{"id":"x"}"#
        try await TestDatabase.execute(
            """
            INSERT INTO audit_events (id, type, severity, occurred_at, event, sequence, prevhash, hash)
            VALUES (gen_random_uuid(), 'airlock.test', 'info', now(), '\(event)', 1,
                    repeat('0', 64), repeat('a', 64))
            """, on: url)
        let broken = try await AirlockBinary.run(["audit", "verify", "--json", "--database-url", url.testURLString])
        #expect(broken.status == 1)
        let report = try #require(try JSONSerialization.jsonObject(with: Data(broken.output.utf8)) as? [String: Any])
        #expect(report["intact"] as? Bool == false)
        #expect(report["first_bad_sequence"] as? Int == 1)
    }
}
