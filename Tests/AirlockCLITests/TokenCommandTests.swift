import AirlockStore
import AirlockTestSupport
import Foundation
import PostgresNIO
import Testing

/// `airlock token create` checks a token exactly as `POST /v1/tokens` does (one service behind both): before, the
/// command took any name (control characters that forge log and terminal lines included), any group and any TTL.
struct TokenCommandTests {
    static func tokenCount(_ url: DatabaseURL) async throws -> Int64 {
        try await TestDatabase.withExisting(url) { database in
            let rows = try await database.client.query(
                "SELECT count(*) FROM api_tokens WHERE kind = 'airlock'", logger: TestDatabase.logger)
            var count: Int64 = -1
            for try await value in rows.decode(Int64.self) { count = value }
            return count
        }
    }

    @Test(.timeLimit(.minutes(2)), arguments: [
        (["--name", "ops\u{1B}[2Jbell"], "control characters"),
        (["--name", "   "], "blank"),
        (["--name", "ops", "--group", "Bad Group"], "must match"),
        (["--name", "ops", "--ttl", "400d"], "ttl_seconds"),
        (["--name", "ops", "--scope", "root"], "unknown scope"),
    ])
    func aTokenTheAPIWouldRefuseIsRefusedAndNothingIsStored(extra: [String], message: String) async throws {
        let url = try await TestDatabase.fresh()
        let result = try await AirlockBinary.run(
            ["token", "create", "--scope", "admin", "--database-url", url.testURLString] + extra,
            environment: ServeAndMigrateCommandTests.masterKeyEnvironment)
        #expect(result.status != 0)
        #expect(result.errors.contains(message), "\(result.errors)")
        #expect(result.output.isEmpty, "no token may be printed: \(result.output)")
        #expect(try await Self.tokenCount(url) == 0)
    }

    /// Issue 10, item 1: a token is a service, and services approve nothing a person must approve, so a token may not
    /// be put in an approver group of the configured policies unless a requirement on it says `including services`.
    @Test(.timeLimit(.minutes(2)))
    func aTokenInAPeopleOnlyApproverGroupIsRefused() async throws {
        let url = try await TestDatabase.fresh()
        let policies = FileManager.default.temporaryDirectory.appendingPathComponent("airlock-token-policies-\(UUID())")
        try FileManager.default.createDirectory(at: policies, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: policies) }
        try Data("""
            require_approval "prod-write"
              when request.role == "readwrite"
              approvers group("db-owners") count 2, group("release-checks") count 1 including services;
            """.utf8).write(to: policies.appendingPathComponent("main.airlock"))
        let environment = ServeAndMigrateCommandTests.masterKeyEnvironment.merging(["AIRLOCK_POLICIES_DIR": policies.path]) { $1 }
        func create(_ group: String) async throws -> (status: Int32?, output: String, errors: String) {
            try await AirlockBinary.run(
                ["token", "create", "--scope", "service", "--name", "bot-\(group)", "--group", group,
                 "--database-url", url.testURLString], environment: environment)
        }
        let refused = try await create("db-owners")
        #expect(refused.status != 0)
        #expect(refused.errors.contains("group `db-owners` approves requests (rule `prod-write`)"), "\(refused.errors)")
        #expect(refused.output.isEmpty)
        #expect(try await Self.tokenCount(url) == 0)
        let allowed = try await create("release-checks")
        #expect(allowed.status == 0, "\(allowed.errors)")
        let unrelated = try await create("ci")
        #expect(unrelated.status == 0, "\(unrelated.errors)")
        #expect(try await Self.tokenCount(url) == 2)
        // An introspect token names the audience it introspects for.
        let noAudience = try await AirlockBinary.run(
            ["token", "create", "--scope", "introspect", "--database-url", url.testURLString], environment: environment)
        #expect(noAudience.status != 0 && noAudience.errors.contains("needs an `audience`"), "\(noAudience.errors)")
        let withAudience = try await AirlockBinary.run(
            ["token", "create", "--scope", "introspect", "--audience", "payments-api", "--database-url", url.testURLString],
            environment: environment)
        #expect(withAudience.status == 0, "\(withAudience.errors)")
    }

    @Test(.timeLimit(.minutes(2)))
    func aTokenWithoutANameIsAPrincipalOfItsOwn() async throws {
        let url = try await TestDatabase.fresh()
        var names: [String] = []
        for _ in 0..<2 {
            let result = try await AirlockBinary.run(
                ["token", "create", "--scope", "service", "--database-url", url.testURLString],
                environment: ServeAndMigrateCommandTests.masterKeyEnvironment)
            #expect(result.status == 0, "\(result.errors)")
            #expect(result.output.hasPrefix("alk_"))
            let list = try await AirlockBinary.run(
                ["token", "list", "--json", "--database-url", url.testURLString],
                environment: ServeAndMigrateCommandTests.masterKeyEnvironment)
            #expect(!list.output.contains(result.output.trimmingCharacters(in: .whitespacesAndNewlines)))
            names = list.output.split(separator: "\n").compactMap {
                (try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])?["name"] as? String
            }
        }
        #expect(names.count == 2 && Set(names).count == 2 && names.allSatisfy { $0.hasPrefix("cli-") }, "\(names)")
    }
}
