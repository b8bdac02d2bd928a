import AirlockLocalCluster
import Foundation
import Testing
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// `airlock dev` end to end on the real clock: it starts, reaches /readyz 200, refuses a second instance on the
/// same port, and on Ctrl-C leaves no PostgreSQL process and no file of its own behind.
@Suite(.serialized)
struct DevCommandTests {
    @Test(.timeLimit(.minutes(3)))
    func devStartsReadyAndCleansUpOnInterrupt() async throws {
        let port = try FreePort.find()
        let parent = FileManager.default.temporaryDirectory.appendingPathComponent("airlock-devtest-\(UUID().uuidString)")
        let stateDir = parent.appendingPathComponent("state")
        defer { try? FileManager.default.removeItem(at: parent) }

        let dev = try AirlockBinary.start(["dev", "--port", "\(port)", "--json", "--state-dir", stateDir.path])
        defer { dev.kill() }
        let line = try #require(try await dev.firstLine(upTo: .seconds(90)), "no JSON line; stderr: \(dev.errors)")
        let details = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        let brokerURL = try #require(details["broker_url"] as? String)
        #expect(brokerURL == "http://127.0.0.1:\(port)")
        #expect(details["console_url"] as? String == "http://127.0.0.1:\(port)/console")
        #expect((details["database_url"] as? String)?.hasSuffix("/airlock?sslmode=disable") == true)
        #expect((details["target_database_url"] as? String)?.hasSuffix("/orders?sslmode=disable") == true)
        #expect(details.keys.contains("admin_token"))
        #expect(FileManager.default.fileExists(atPath: stateDir.appendingPathComponent("postgres").path))

        #expect(try await Self.waitForStatus(200, url: "\(brokerURL)/readyz", upTo: .seconds(30)))

        // The agent walkthrough: its configuration checks out against this broker, and the agent keeps a login.
        let agentConfiguration = try #require(details["agent_config"] as? String)
        #expect(agentConfiguration.hasPrefix(stateDir.path))
        let dryRun = try await AirlockBinary.run(["agent", "--config", agentConfiguration, "--dry-run"], limit: .seconds(60))
        #expect(dryRun.status == 0 && dryRun.output.contains("orders: orders-staging as readonly for 5m: permit"),
                "\(dryRun.output) \(dryRun.errors)")
        let agentDirectory = (agentConfiguration as NSString).deletingLastPathComponent
        let agent = try AirlockBinary.start(["agent", "--config", agentConfiguration, "--", "sh", "-c",
                                             "echo \"$PGUSER\" > \(agentDirectory)/started; exec sleep 60"])
        defer { agent.kill() }
        let started = agentDirectory + "/started"
        // The shell creates the file before it writes the line: wait for the whole line.
        let deadline = ContinuousClock.now + .seconds(60)
        var login = ""
        while ContinuousClock.now < deadline, !login.hasSuffix("\n") {
            try await Task.sleep(for: .milliseconds(100))
            login = (try? String(contentsOfFile: started, encoding: .utf8)) ?? ""
        }
        #expect(login.hasPrefix("airlock_readonly_"), "\(agent.errors)")
        let env = (try? String(contentsOfFile: agentDirectory + "/orders.env", encoding: .utf8)) ?? ""
        #expect(env.contains("PGUSER=\(login.trimmingCharacters(in: .whitespacesAndNewlines))"))
        agent.process.terminate()
        #expect(try await agent.wait(upTo: .seconds(30)) == 0, "\(agent.errors)")
        #expect(!FileManager.default.fileExists(atPath: agentDirectory + "/orders.env"), "removed when the agent stops")
        #expect(agent.errors.contains("credential revoked at shutdown"))

        let second = try await AirlockBinary.run(["dev", "--port", "\(port)"], limit: .seconds(30))
        #expect(second.status != nil && second.status != 0)
        #expect(second.errors.contains("already running on port \(port)"))

        dev.process.interrupt()
        let status = try await dev.wait(upTo: .seconds(60))
        #expect(status == 0, "stderr: \(dev.errors)")
        #expect(!FileManager.default.fileExists(atPath: stateDir.path), "state directory left behind")
        #expect(Self.postgresProcesses(mentioning: stateDir.path).isEmpty, "PostgreSQL left running")
        #expect(!FileManager.default.fileExists(atPath: DevHygieneTests.runtimeDirectory + "/dev-\(port).lock"))
    }

    static func waitForStatus(_ expected: Int, url: String, upTo limit: Duration) async throws -> Bool {
        let deadline = ContinuousClock.now + limit
        let target = try #require(URL(string: url))
        while ContinuousClock.now < deadline {
            if let (_, response) = try? await URLSession.shared.data(from: target),
               (response as? HTTPURLResponse)?.statusCode == expected {
                return true
            }
            try await Task.sleep(for: .milliseconds(200))
        }
        return false
    }

    /// PIDs of live processes whose command line mentions `path`.
    static func postgresProcesses(mentioning path: String) -> [Int32] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap { entry -> Int32? in
            guard let pid = Int32(entry),
                  let data = FileManager.default.contents(atPath: "/proc/\(entry)/cmdline"),
                  let stat = try? String(contentsOfFile: "/proc/\(entry)/stat", encoding: .utf8),
                  !stat.contains(") Z ") else { return nil }
            let commandLine = String(decoding: data.map { $0 == 0 ? 0x20 : $0 }, as: UTF8.self)
            return commandLine.contains(path) ? pid : nil
        }
    }
}
