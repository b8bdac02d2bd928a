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
