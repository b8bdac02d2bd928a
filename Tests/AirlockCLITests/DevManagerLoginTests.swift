import Foundation
import Testing

/// Issue 12, item 2: `airlock login --dev USER --manager M` mints a token whose principal has `principal.manager`,
/// seen by a real `airlock dev`: the broker decides on it and stores it, so `airlock policy replay` re-decides with it.
struct DevManagerLoginTests {
    static func json(_ text: String) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any], "\(text)")
    }

    @Test func managerIsValidatedLikeTheUserName() async throws {
        let home = ["AIRLOCK_HOME": ClientCommandTests.home()]
        for blank in ["", "   "] {
            let result = try await AirlockBinary.run(["login", "--dev", "alice", "--manager", blank], environment: home)
            #expect(result.status != 0 && result.errors.contains("--manager needs a user name"), "\(result.errors)")
        }
        let withToken = try await AirlockBinary.run(
            ["login", "--token", "alk_x", "--manager", "carol", "--addr", "http://127.0.0.1:1"], environment: home)
        #expect(withToken.status != 0 && withToken.errors.contains("--manager go with --dev"), "\(withToken.errors)")
    }

    @Test(.timeLimit(.minutes(3)))
    func devLoginWithAManagerReachesThePolicy() async throws {
        let dev = try await DevBroker.start()
        defer { dev.stop() }
        let ask = ["request", "orders-staging", "--role", "readonly", "--ttl", "30m", "--reason", "INC-12"]

        let login = try await AirlockBinary.run(
            ["login", "--dev", "alice", "--groups", "sre", "--manager", "carol", "--json"], environment: dev.environment)
        #expect(login.status == 0, "\(login.errors)")
        let answer = try Self.json(login.output)
        #expect(answer["principal"] as? String == "alice" && answer["manager"] as? String == "carol", "\(login.output)")
        let text = try await AirlockBinary.run(
            ["login", "--dev", "alice", "--groups", "sre", "--manager", "carol"], environment: dev.environment)
        #expect(text.output.contains("logged in as alice (principal id alice, manager carol)"), "\(text.output)")
        let asked = try await AirlockBinary.run(ask, environment: dev.environment)
        #expect(asked.status == 0 && asked.output.contains("approved"), "\(asked.output)\(asked.errors)")

        // erin has no manager: her login says so, and her request is stored without one.
        let erinHome = ClientCommandTests.home()
        defer { try? FileManager.default.removeItem(atPath: erinHome) }
        let erinEnv = ["AIRLOCK_HOME": erinHome, "AIRLOCK_ADDR": dev.address]
        let erin = try await AirlockBinary.run(["login", "--dev", "erin", "--groups", "sre", "--json"], environment: erinEnv)
        #expect(erin.status == 0, "\(erin.errors)")
        #expect(try Self.json(erin.output)["manager"] is NSNull, "\(erin.output)")
        let erinAsked = try await AirlockBinary.run(ask, environment: erinEnv)
        #expect(erinAsked.status == 0 && erinAsked.output.contains("approved"), "\(erinAsked.output)\(erinAsked.errors)")

        // A dev service's manager is qualified by the workload issuer, as its own id is.
        let ciHome = ClientCommandTests.home()
        defer { try? FileManager.default.removeItem(atPath: ciHome) }
        let ci = try await AirlockBinary.run(
            ["login", "--dev", "ci-bot", "--service", "--manager", "carol", "--json"],
            environment: ["AIRLOCK_HOME": ciHome, "AIRLOCK_ADDR": dev.address])
        #expect(ci.status == 0, "\(ci.errors)")
        #expect(try Self.json(ci.output)["manager"] as? String == "airlock-dev-workload#carol", "\(ci.output)")

        // The broker stored the manager the token carried: a set that permits carol's reports keeps alice's permit
        // and denies erin; one for dave's reports denies both.
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("airlock-manager-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        func replay(manager: String) async throws -> [String: Any] {
            try Data("""
                permit "managed-readonly"
                  when principal has manager and principal.manager == "\(manager)" and request.role == "readonly"
                  ttl <= 1h;
                """.utf8).write(to: directory.appendingPathComponent("main.airlock"))
            let result = try await AirlockBinary.run(
                ["policy", "replay", "--json", "--since", "1h", "--policies", directory.path,
                 "--database-url", dev.databaseURL])
            #expect(result.status == 1, "stdout: \(result.output) stderr: \(result.errors)")
            return try Self.json(result.output)
        }
        let carol = try await replay(manager: "carol")
        #expect(carol["examined"] as? Int == 2, "\(carol)")
        #expect((carol["failed"] as? [Any])?.isEmpty == true, "\(carol)")
        #expect((carol["changed"] as? [[String: Any]])?.compactMap { $0["principal"] as? String } == ["erin"], "\(carol)")
        let dave = try await replay(manager: "dave")
        #expect(Set((dave["changed"] as? [[String: Any]])?.compactMap { $0["principal"] as? String } ?? [])
            == ["alice", "erin"], "\(dave)")

        dev.running.process.interrupt()
        #expect(try await dev.running.wait(upTo: .seconds(60)) == 0, "stderr: \(dev.running.errors)")
    }
}
