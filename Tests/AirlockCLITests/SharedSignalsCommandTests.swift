import Foundation
import Testing

/// `airlock ssf streams …` against a real `airlock dev` (which transmits Shared Signals with a key of its own), and
/// `airlock ssf transmitters check` offline.
struct SharedSignalsCommandTests {
    @Test("streams: add a push and a poll stream, list them, pause one, a paused stream is not verified, delete; the push authorization never printed",
          .timeLimit(.minutes(3)))
    func streams() async throws {
        let dev = try await DevBroker.start()
        defer { dev.stop() }
        let env = dev.environment.merging(["AIRLOCK_TOKEN": dev.adminToken]) { $1 }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("ssf-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let header = "Bearer " + String(repeating: "7f", count: 32)
        let headerFile = directory.appendingPathComponent("authorization").path
        FileManager.default.createFile(atPath: headerFile, contents: Data(header.utf8), attributes: [.posixPermissions: 0o600])

        let push = try await AirlockBinary.run(
            ["ssf", "streams", "add", "--push", "http://127.0.0.1:9/receive", "--authorization-file", headerFile,
             "--event", "session-revoked", "--event", "credential-change", "--aud", "https://receiver.test",
             "--json"], environment: env)
        #expect(push.status == 0, "\(push.errors)")
        let pushed = try #require(try JSONSerialization.jsonObject(with: Data(push.output.utf8)) as? [String: Any])
        let pushID = try #require(pushed["stream_id"] as? String)
        let poll = try await AirlockBinary.run(
            ["ssf", "streams", "add", "--poll", "--event", "risk-level-change"], environment: env)
        #expect(poll.status == 0 && poll.output.contains("poll ") && poll.output.contains("risk-level-change"),
                "\(poll.output) \(poll.errors)")
        let neither = try await AirlockBinary.run(["ssf", "streams", "add", "--event", "verification"], environment: env)
        #expect(neither.status != 0 && neither.errors.contains("--push"), "\(neither.errors)")
        let unknown = try await AirlockBinary.run(
            ["ssf", "streams", "add", "--poll", "--event", "session-exploded"], environment: env)
        #expect(unknown.status != 0 && unknown.errors.contains("session-exploded"), "\(unknown.errors)")

        let list = try await AirlockBinary.run(["ssf", "streams", "list"], environment: env)
        #expect(list.status == 0 && list.output.contains(pushID), "\(list.output)")
        #expect(list.output.contains("session-revoked,credential-change") && list.output.contains("aud https://receiver.test"))

        let paused = try await AirlockBinary.run(
            ["ssf", "streams", "status", pushID, "--set", "paused", "--reason", "maintenance"], environment: env)
        #expect(paused.status == 0 && paused.output.contains("paused (maintenance)"), "\(paused.output) \(paused.errors)")
        let verify = try await AirlockBinary.run(["ssf", "streams", "verify", pushID], environment: env)
        #expect(verify.status != 0 && verify.errors.contains("paused"), "\(verify.errors)")
        let enabled = try await AirlockBinary.run(["ssf", "streams", "status", pushID, "--set", "enabled"], environment: env)
        #expect(enabled.status == 0 && enabled.output.contains("enabled"), "\(enabled.errors)")
        let verified = try await AirlockBinary.run(["ssf", "streams", "verify", pushID, "--state", "s-1"], environment: env)
        #expect(verified.status == 0 && verified.output.contains("state s-1"), "\(verified.errors)")

        let removed = try await AirlockBinary.run(["ssf", "streams", "rm", pushID], environment: env)
        #expect(removed.status == 0 && removed.output.contains("deleted"), "\(removed.errors)")
        let after = try await AirlockBinary.run(["ssf", "streams", "list"], environment: env)
        #expect(!after.output.contains(pushID))
        for run in [push, poll, list, paused, verify, enabled, verified, removed, after] {
            #expect(!run.output.contains(header) && !run.errors.contains(header))
        }
    }

    @Test("transmitters check: a valid file shows each event's signal and never the token; a bad one names the problem")
    func check() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("ssf-check-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let token = String(repeating: "c3", count: 32)
        try Data(token.utf8).write(to: directory.appendingPathComponent("idp.token"))
        let file = directory.appendingPathComponent("ssf.json").path
        try Data("""
            {"transmitters": [{"issuer": "https://idp.test", "jwks_url": "https://idp.test/keys",
              "audiences": ["https://airlock.test/ssf"], "authorization_token_file": "idp.token",
              "events": {"credential-change": {"ignore": true}, "session-revoked": {"severity": "critical"}}}]}
            """.utf8).write(to: URL(fileURLWithPath: file))
        let checked = try await AirlockBinary.run(["ssf", "transmitters", "check", file])
        #expect(checked.status == 0, "\(checked.errors)")
        #expect(checked.output.contains("https://idp.test"), "\(checked.output)")
        #expect(checked.output.contains("credential-change → ignored"))
        #expect(checked.output.contains("session-revoked → session_revoked (critical, 3600 s)"))
        #expect(checked.output.contains("credential-compromise → credential_compromised (critical, 604800 s)"))
        #expect(!checked.output.contains(token) && !checked.errors.contains(token))

        try Data(#"{"transmitters": [{"issuer": "https://idp.test"}]}"#.utf8).write(to: URL(fileURLWithPath: file))
        let bad = try await AirlockBinary.run(["ssf", "transmitters", "check", file])
        #expect(bad.status != 0 && bad.errors.contains("jwks_file"), "\(bad.errors)")
    }
}
