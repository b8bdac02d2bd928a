import Foundation
import Testing

/// `airlock signal add|list|rm` (issue 15, item 4) through the built binary against a real `airlock dev`.
struct SignalCommandTests {
    @Test(.timeLimit(.minutes(3)))
    func addListWithdraw() async throws {
        let dev = try await DevBroker.start()
        defer { dev.stop() }
        let env = dev.environment.merging(["AIRLOCK_TOKEN": dev.adminToken]) { $1 }

        let added = try await AirlockBinary.run(
            ["signal", "add", "repo:org/app", "device_compromised", "--severity", "high", "--ttl", "1h",
             "--detail", "EDR-7731 beacon"], environment: env)
        #expect(added.status == 0, "\(added.errors)")
        #expect(added.output.contains("device_compromised (high) for repo:org/app"), "\(added.output)")

        let builtIn = try await AirlockBinary.run(
            ["signal", "add", "alice", "stale_mfa", "--severity", "high", "--ttl", "1h"], environment: env)
        #expect(builtIn.status != 0 && builtIn.errors.contains("stale_mfa"), "\(builtIn.errors)")
        let badTTL = try await AirlockBinary.run(
            ["signal", "add", "alice", "credential_leaked", "--severity", "high", "--ttl", "soon"], environment: env)
        #expect(badTTL.status != 0 && badTTL.errors.contains("--ttl"), "\(badTTL.errors)")
        let tooLong = try await AirlockBinary.run(
            ["signal", "add", "alice", "credential_leaked", "--severity", "high", "--ttl", "31d"], environment: env)
        #expect(tooLong.status != 0 && tooLong.errors.contains("ttl_seconds"), "\(tooLong.errors)")

        let json = try await AirlockBinary.run(["signal", "list", "--json"], environment: env)
        #expect(json.status == 0, "\(json.errors)")
        let items = (try JSONSerialization.jsonObject(with: Data(json.output.utf8)) as? [String: Any])?["items"] as? [[String: Any]]
        #expect(items?.count == 1, "\(json.output)")
        let id = try #require(items?.first?["id"] as? String)
        #expect(items?.first?["detail"] as? String == "EDR-7731 beacon")

        let human = try await AirlockBinary.run(["signal", "list", "--principal", "repo:org/app"], environment: env)
        #expect(human.status == 0 && human.output.contains(id) && human.output.contains("active"), "\(human.output)")
        let nobody = try await AirlockBinary.run(["signal", "list", "--principal", "bob"], environment: env)
        #expect(nobody.output.contains("no active signals"), "\(nobody.output)")

        let removed = try await AirlockBinary.run(["signal", "rm", id], environment: env)
        #expect(removed.status == 0 && removed.output.contains("withdrawn"), "\(removed.errors)")
        let none = try await AirlockBinary.run(["signal", "list"], environment: env)
        #expect(none.output.contains("no active signals"), "\(none.output)")
        let history = try await AirlockBinary.run(["signal", "list", "--all"], environment: env)
        #expect(history.output.contains(id) && history.output.contains("withdrawn"), "\(history.output)")
        let unknown = try await AirlockBinary.run(["signal", "rm", UUID().uuidString], environment: env)
        #expect(unknown.status != 0 && unknown.errors.contains("no such signal"), "\(unknown.errors)")
    }
}
