import AirlockStore
import AirlockTestSupport
import Foundation
import PostgresNIO
import Testing

/// `airlock policy replay` as an operator runs it: exit 0 when nothing changes, 1 when something would, 2 when
/// the policies do not load or the database is out of reach; a table by default, one JSON object with --json.
@Suite("airlock policy replay")
struct PolicyReplayCommandTests {
    static let policy = #"permit "sre-readonly" when "sre" in principal.groups and request.role == "readonly" ttl <= 1h;"#

    /// A stored request: who, the TTL asked, how long ago, and the decision it got under ``policy``.
    struct Row {
        let id = UUID()
        let principal: String
        let groups: [String]
        let ttl: Int
        let hoursAgo: Double
        let decision: String
    }

    static let rows = [
        Row(principal: "alice", groups: ["sre"], ttl: 1800, hoursAgo: 1,
            decision: #"{"decision":"permit","ttl_seconds":1800,"rules":["sre-readonly"],"approvals":[],"notify":[],"errors":[]}"#),
        Row(principal: "bob", groups: ["backend"], ttl: 1800, hoursAgo: 2,
            decision: #"{"decision":"deny","rules":[],"approvals":[],"notify":[],"errors":[]}"#),
        Row(principal: "carol", groups: ["sre"], ttl: 7200, hoursAgo: 3,
            decision: #"{"decision":"permit","ttl_seconds":3600,"rules":["sre-readonly"],"approvals":[],"notify":[],"errors":[]}"#),
        Row(principal: "dave", groups: ["sre"], ttl: 3600, hoursAgo: 24 * 10,
            decision: #"{"decision":"permit","ttl_seconds":3600,"rules":["sre-readonly"],"approvals":[],"notify":[],"errors":[]}"#),
    ]

    static func input(_ row: Row) -> String {
        let groups = row.groups.map { "\"\($0)\"" }.joined(separator: ",")
        return #"{"principal":{"id":"\#(row.principal)","kind":"user","groups":[\#(groups)],"on_call":false},"#
            + #""resource":{"id":"orders-db","kind":"postgres","env":"prod","owner":"payments","sensitivity":7,"tags":[],"pci":true},"#
            + #""request":{"role":"readonly","ttl":\#(row.ttl),"reason":"r","break_glass":false,"hour":10,"weekday":"tue","#
            + #""source_ip":"10.0.0.1"},"risk":{"score":0,"signals":[]}}"#
    }

    /// A migrated database holding ``rows``.
    static func history() async throws -> DatabaseURL {
        let url = try await TestDatabase.fresh()
        try await TestDatabase.withExisting(url) { database in
            try await database.client.query(
                "INSERT INTO resources (id, kind, env) VALUES ('orders-db', 'postgres', 'prod')", logger: TestDatabase.logger)
            for row in rows {
                let created = Date().addingTimeInterval(-row.hoursAgo * 3600)
                let status = row.decision.contains("deny") ? "denied" : "expired"
                try await database.client.query("""
                    INSERT INTO access_requests (id, principal_id, principal_kind, resource_id, role, ttl_seconds, reason,
                        status, decision, evaluation_input, created_at)
                    VALUES (\(row.id), \(row.principal), 'user', 'orders-db', 'readonly', \(row.ttl), 'r', \(status),
                        \(row.decision)::jsonb, \(input(row))::jsonb, \(created))
                    """, logger: TestDatabase.logger)
            }
        }
        return url
    }

    static func policies(_ text: String) throws -> URL {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("airlock-replay-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try Data(text.utf8).write(to: directory.appendingPathComponent("main.airlock"))
        return directory
    }

    static func json(_ text: String) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any], "\(text)")
    }

    @Test(.timeLimit(.minutes(2)))
    func exitsZeroWhenNothingChangesAndOneWhenSomethingWould() async throws {
        let url = try await Self.history()
        let same = try Self.policies(Self.policy)
        let tighter = try Self.policies(Self.policy.replacingOccurrences(of: "ttl <= 1h", with: "ttl <= 30m"))
        defer {
            try? FileManager.default.removeItem(at: same)
            try? FileManager.default.removeItem(at: tighter)
        }
        let database = ["--database-url", url.testURLString]

        let unchanged = try await AirlockBinary.run(["policy", "replay", "--policies", same.path] + database)
        #expect(unchanged.status == 0, "stdout: \(unchanged.output) stderr: \(unchanged.errors)")
        #expect(unchanged.output.contains("no decision would change: re-decided 3 requests since"), "\(unchanged.output)")
        let unchangedJSON = try Self.json(
            try await AirlockBinary.run(["policy", "replay", "--json", "--policies", same.path] + database).output)
        #expect(unchangedJSON["examined"] as? Int == 3)
        #expect((unchangedJSON["changed"] as? [Any])?.isEmpty == true)

        let changed = try await AirlockBinary.run(["policy", "replay", "--policies", tighter.path] + database)
        #expect(changed.status == 1, "stdout: \(changed.output) stderr: \(changed.errors)")
        let carol = Self.rows[2].id.uuidString.lowercased()
        let line = try #require(changed.output.split(separator: "\n").first { $0.contains(carol) }, "\(changed.output)")
        #expect(line.contains("carol") && line.contains("permit 1h") && line.contains("permit 30m"), "\(line)")
        #expect(line.contains("sre-readonly → sre-readonly"), "\(line)")
        #expect(changed.output.hasSuffix("1 of 3 decisions would change (requests since \(Self.sinceText(changed.output)))\n"),
                "\(changed.output)")

        let result = try await AirlockBinary.run(["policy", "replay", "--json", "--policies", tighter.path] + database)
        #expect(result.status == 1)
        let report = try Self.json(result.output)
        #expect(report["examined"] as? Int == 3)
        #expect(report["since"] is String)
        #expect((report["failed"] as? [Any])?.isEmpty == true)
        let changes = try #require(report["changed"] as? [[String: Any]])
        #expect(changes.count == 1)
        let change = try #require(changes.first)
        #expect(change["request"] as? String == carol)
        #expect(change["principal"] as? String == "carol")
        #expect(change["resource"] as? String == "orders-db")
        #expect(change["role"] as? String == "readonly")
        #expect(change["created_at"] is String)
        #expect(change["changes"] as? [String] == ["ttl"])
        let before = try #require(change["before"] as? [String: Any])
        let after = try #require(change["after"] as? [String: Any])
        #expect(before["decision"] as? String == "permit" && before["ttl_seconds"] as? Int == 3600)
        #expect(after["decision"] as? String == "permit" && after["ttl_seconds"] as? Int == 1800)
        #expect(before["rules"] as? [String] == ["sre-readonly"] && after["rules"] as? [String] == ["sre-readonly"])

        // A set that reads a stored attribute with another type cannot re-decide: each such request counts.
        let retyped = try Self.policies(Self.policy + "\nattribute resource.pci: Int?\n")
        defer { try? FileManager.default.removeItem(at: retyped) }
        let unreadable = try await AirlockBinary.run(["policy", "replay", "--json", "--policies", retyped.path] + database)
        #expect(unreadable.status == 1, "stderr: \(unreadable.errors)")
        let failed = try #require(try Self.json(unreadable.output)["failed"] as? [[String: Any]])
        #expect(failed.count == 3)
        #expect(failed.allSatisfy { ($0["error"] as? String)?.contains("pci") == true }, "\(failed)")

        // Further back, dave's older request is re-decided too; --limit keeps the most recent.
        let month = try Self.json(try await AirlockBinary.run(
            ["policy", "replay", "--json", "--since", "30d", "--policies", tighter.path] + database).output)
        #expect(month["examined"] as? Int == 4)
        #expect((month["changed"] as? [[String: Any]])?.compactMap { $0["principal"] as? String } == ["carol", "dave"])
        let limited = try Self.json(try await AirlockBinary.run(
            ["policy", "replay", "--json", "--since", "30d", "--limit", "2", "--policies", tighter.path] + database).output)
        #expect(limited["examined"] as? Int == 2)
        #expect((limited["changed"] as? [Any])?.isEmpty == true)
    }

    @Test(.timeLimit(.minutes(1)))
    func exitsTwoWhenThePoliciesDoNotLoadOrTheDatabaseIsAway() async throws {
        let url = try await Self.history()
        let broken = try Self.policies(#"permit "x" when principal.nope == 1;"#)
        let good = try Self.policies(Self.policy)
        defer {
            try? FileManager.default.removeItem(at: broken)
            try? FileManager.default.removeItem(at: good)
        }
        let bad = try await AirlockBinary.run(
            ["policy", "replay", "--policies", broken.path, "--database-url", url.testURLString])
        #expect(bad.status == 2, "stderr: \(bad.errors)")
        #expect(bad.errors.contains("main.airlock:1:"), "\(bad.errors)")
        #expect(bad.output.isEmpty)

        let password = "pw-Replay-5e7a"
        let away = try await AirlockBinary.run(
            ["policy", "replay", "--policies", good.path, "--database-url", "postgres://airlock:\(password)@127.0.0.1:1/airlock"])
        #expect(away.status == 2, "stderr: \(away.errors)")
        #expect(away.errors.contains("cannot reach the database"), "\(away.errors)")
        #expect(!away.errors.contains(password))

        let since = try await AirlockBinary.run(
            ["policy", "replay", "--policies", good.path, "--since", "a week", "--database-url", url.testURLString])
        #expect(since.status != 0 && since.status != 1, "\(String(describing: since.status))")
        #expect(since.errors.contains("--since"), "\(since.errors)")
    }

    /// The time after `requests since ` in the last line.
    static func sinceText(_ output: String) -> String {
        guard let range = output.range(of: "requests since ", options: .backwards) else { return "" }
        return String(output[range.upperBound...].prefix { $0 != ")" })
    }
}
