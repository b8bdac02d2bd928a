import AirlockAgent
import AirlockCore
import AirlockServer
import AirlockStore
import AirlockTestSupport
import Foundation
import Hummingbird
import HummingbirdTesting
import Synchronization
import UnixSignals
import Testing

/// `airlock agent` end to end, on the real clock: a PostgreSQL session pool kept busy through rotations with no
/// failed query, every superseded login dropped after its grace period, nothing left at the end.
@Suite(.serialized)
struct AgentRotationTests {
    @Test("a session pool stays busy through at least three rotations (TTL 4 s, cap 8 s): no query fails, each superseded login is dropped after its grace period, none is left at the end, no secret is logged",
          .timeLimit(.minutes(3)))
    func sessionPoolThroughThreeRotations() async throws {
        let fixture = try await AgentFixture.make()
        let (token, tokenFile) = try await fixture.tokenFile("orders-app", groups: ["apps"])
        let app = try buildApplication(config: fixture.config)
        try await app.test(.live) { client in
            try await ServerSupport.waitUntilReady(client)
            let port = try #require(client.port)
            let configuration = try fixture.configuration(
                brokerPort: port, tokenFile: tokenFile, name: "orders", ttl: "4s")
            let running = try fixture.agent(configuration)
            let pool = BusyPool(file: fixture.path("orders.json"), target: fixture.flow.target)
            let pooling = Task { await pool.run(size: 3) }

            let rotated = try await RunningAgent.wait(upTo: 60) { pool.logins.withLock { $0.count } >= 4 }
            #expect(rotated, "four logins (three rotations) within a minute: \(pool.logins.withLock { $0.map(\.username) })")
            // The last superseded login's grace period runs out before the agent stops.
            try await Task.sleep(for: .seconds(2))

            let health = try await running.fetch("/healthz")
            #expect(health.status == 200 && health.body.contains("\"valid\":true"), "\(health)")
            let metrics = try await running.fetch("/metrics").body
            #expect(metrics.contains("airlock_agent_credential_expiry_seconds{credential=\"orders\"}"))
            #expect(running.agent.status.credential("orders").map { $0.renewed >= 1 && $0.issued >= 4 } == true,
                    "\(String(describing: running.agent.status.credential("orders")))")

            pool.stop()
            await pooling.value
            running.stop()
            #expect(try await running.finished() == 0)

            let failures = pool.failures.withLock { $0 }
            #expect(failures.isEmpty, "\(failures)")
            #expect(pool.queries.load(ordering: .relaxed) > 100)
            let logins = pool.logins.withLock { $0 }
            #expect(Set(logins.map(\.username)).count == logins.count, "every rotation is a new login")
            // Shut down: nothing of the agent's remains.
            #expect(try await fixture.existingRoles(logins.map(\.username)).isEmpty)
            let leases = try await client.call(.get, "/v1/leases", token: token).json["items"]?.arrayValue ?? []
            // Each superseded login was revoked after the grace period (1 s) that follows its successor's issue — or at
            // its own end, when the successor came late — and soon after: from the broker's own lease records, on
            // the clock the agent read, so a loaded machine cannot blur it.
            var byLogin: [String: JSONValue] = [:]
            for lease in leases { if let user = lease["username"]?.stringValue { byLogin[user] = lease } }
            func time(_ lease: JSONValue?, _ key: String) -> Date? { lease?[key]?.stringValue.flatMap(AuditTime.parse) }
            for (old, new) in zip(logins, logins.dropFirst()).dropLast(logins.count > 4 ? 1 : 0) {
                let issued = try #require(time(byLogin[new.username], "issued_at"), "no lease for \(new.username)")
                let end = try #require(time(byLogin[old.username], "expires_at"), "no lease for \(old.username)")
                let ended = time(byLogin[old.username], "revoked_at") ?? end
                let due = min(issued.addingTimeInterval(1), end)
                let after = ended.timeIntervalSince(due)
                #expect(after > -0.05 && after < 5, "\(old.username) ended \(after) s after its grace period or its end")
            }
            #expect(leases.count >= logins.count)
            #expect(leases.allSatisfy { ["revoked", "expired"].contains($0["status"]?.stringValue ?? "") }, "\(leases)")
            #expect(fixture.status("orders")?["state"] == "stopped")
            for name in ["orders.json", "orders.env", "orders.pgpass"] {
                #expect(!FileManager.default.fileExists(atPath: fixture.path(name)), "\(name) removed")
            }
            // No password, nor the agent's token, in the broker's logs or the agent's.
            for line in fixture.brokerLogs.all + fixture.agentLogs.all {
                for login in logins { #expect(!line.contains(login.password)) }
                #expect(!line.contains(token))
            }
        }
    }
}

/// The agent when things go wrong: the broker away for part of a lease, a policy that stops granting.
@Suite(.serialized)
struct AgentFaultTests {
    @Test("the broker is down at renewal time: retries with backoff, an urgent alert as the end nears, and the same credential renewed once it is back, never lapsing",
          .timeLimit(.minutes(3)))
    func brokerOutage() async throws {
        let fixture = try await AgentFixture.make()
        let (_, tokenFile) = try await fixture.tokenFile("nightly-batch", groups: ["batch"])
        let proxy = try FaultProxy()
        defer { proxy.stop() }
        let app = try buildApplication(config: fixture.config)
        try await app.test(.live) { client in
            try await ServerSupport.waitUntilReady(client)
            let port = try #require(client.port)
            proxy.forward(toPort: port)
            let configuration = try fixture.configuration(
                brokerPort: proxy.port, tokenFile: tokenFile, name: "batch", ttl: "30s")
            let running = try fixture.agent(configuration)
            #expect(try await RunningAgent.wait(upTo: 30) { fixture.handedOver("batch") != nil })
            let first = try #require(fixture.handedOver("batch"))
            proxy.set(.down)
            let alerted = try await RunningAgent.wait(upTo: 40) {
                (running.agent.status.credential("batch")?.failures["unreachable"] ?? 0) >= 2
                    && fixture.agentLogs.all.contains { $0.hasPrefix("critical") && $0.contains("the broker cannot be reached") }
            }
            #expect(alerted, "\(fixture.agentLogs.text)")
            let down = try #require(running.agent.status.credential("batch"))
            #expect((down.failures["unreachable"] ?? 0) >= 2 && down.renewed == 0, "\(down) \(fixture.agentLogs.text)")
            #expect(Date() < first.expiresAt, "alerted before the end")
            let health = try await running.fetch("/healthz")
            #expect(health.status == 200, "still valid while the broker is away: \(health.body)")
            proxy.set(.forward)
            #expect(try await RunningAgent.wait(upTo: 15) { (running.agent.status.credential("batch")?.renewed ?? 0) >= 1 })
            let after = try #require(running.agent.status.credential("batch"))
            #expect(after.leaseID == first.leaseID, "the same credential, renewed")
            #expect((after.expiresAt ?? .distantPast) > first.expiresAt)
            #expect(try await fixture.existingRoles([try #require(first.username)]) == [first.username!])
            running.stop()
            #expect(try await running.finished() == 0)
            #expect(try await fixture.existingRoles([first.username!]).isEmpty)
        }
    }

    @Test("a policy change that refuses the credential: reported, the application told (status file, on_change command), the secret files removed, /healthz failing",
          .timeLimit(.minutes(3)))
    func policyChangeRefuses() async throws {
        let fixture = try await AgentFixture.make()
        let (_, tokenFile) = try await fixture.tokenFile("nightly-batch", groups: ["batch"])
        let events = fixture.path("events")
        // Keeps SIGHUP handled in this process for the whole test, whatever the brokers do.
        let hangups = await UnixSignalsSequence(trapping: .sighup)
        _ = hangups
        let app = try buildApplication(config: fixture.config)
        try await app.test(.live) { client in
            try await ServerSupport.waitUntilReady(client)
            let port = try #require(client.port)
            let configuration = try fixture.configuration(
                brokerPort: port, tokenFile: tokenFile, name: "batch", ttl: "4s",
                onChange: #"{"command": ["/bin/sh", "-c", "echo \"$AIRLOCK_AGENT_EVENT $AIRLOCK_CREDENTIAL_NAME\" >> \#(events)"]}"#)
            let running = try fixture.agent(configuration)
            #expect(try await RunningAgent.wait(upTo: 30) { fixture.status("batch")?["state"] == "active" })
            let first = try #require(fixture.handedOver("batch"))

            let directory = fixture.config.settings.policiesDirectory
            try Data((AgentFixture.policies + """

                forbid "no-batch-today" when "batch" in principal.groups;
                """).utf8).write(to: URL(fileURLWithPath: directory).appendingPathComponent("main.airlock"))
            kill(getpid(), SIGHUP)

            let told = try await RunningAgent.wait(upTo: 30) {
                let lines = (try? String(contentsOfFile: events, encoding: .utf8)) ?? ""
                return lines.contains("refused batch") && fixture.status("batch")?["state"] != "active"
                    && !FileManager.default.fileExists(atPath: fixture.path("batch.env"))
            }
            #expect(told, "events: \((try? String(contentsOfFile: events, encoding: .utf8)) ?? "none"); status: \(String(describing: fixture.status("batch")))")
            let status = try #require(fixture.status("batch"))
            #expect(["refused", "ended"].contains(status["state"]?.stringValue ?? ""))
            #expect(status["message"]?.stringValue?.contains("no-batch-today") == true
                    || status["message"]?.stringValue?.contains("policy") == true, "\(status)")
            #expect(fixture.agentLogs.all.contains { $0.contains("refused") && ($0.hasPrefix("critical") || $0.hasPrefix("error")) })
            let lines = try String(contentsOfFile: events, encoding: .utf8)
            #expect(lines.hasPrefix("rotated batch\n"), "\(lines)")
            #expect(try await fixture.existingRoles([try #require(first.username)]).isEmpty, "the broker ended the login")
            let health = try await running.fetch("/healthz")
            #expect(health.status == 503, "\(health)")
            running.stop()
            #expect(try await running.finished() == 0)
        }
    }
}

extension AgentFaultTests {
    @Test("the token file is read before every call: a token written after the agent started (a projection arriving late, a rotated token) is used at once",
          .timeLimit(.minutes(2)))
    func tokenFileReadAgain() async throws {
        let fixture = try await AgentFixture.make()
        let (token, tokenFile) = try await fixture.tokenFile("nightly-batch", groups: ["batch"])
        try CredentialFiles.write("not-yet\n", to: tokenFile)
        let app = try buildApplication(config: fixture.config)
        try await app.test(.live) { client in
            try await ServerSupport.waitUntilReady(client)
            let port = try #require(client.port)
            let configuration = try fixture.configuration(
                brokerPort: port, tokenFile: tokenFile, name: "batch", ttl: "10m")
            let running = try fixture.agent(configuration)
            #expect(try await RunningAgent.wait(upTo: 20) {
                (running.agent.status.credential("batch")?.failures["unauthorized"] ?? 0) >= 1
            })
            #expect(fixture.handedOver("batch") == nil)
            try CredentialFiles.write(token + "\n", to: tokenFile)
            #expect(try await RunningAgent.wait(upTo: 20) { fixture.handedOver("batch") != nil })
            running.stop()
            #expect(try await running.finished() == 0)
            #expect(!fixture.agentLogs.text.contains(token))
        }
    }

    @Test("an alk_ service token in an environment variable authenticates the agent as that service, with its groups")
    func serviceTokenFromTheEnvironment() async throws {
        let fixture = try await AgentFixture.make()
        let service = try await TestDatabase.withExisting(try #require(fixture.config.settings.databaseURL)) { database in
            try await ApiTokenStore(database: database, auditLog: AuditLog(source: "/airlock/test"))
                .create(name: "nightly-export", scopes: ["service"], groups: ["batch"], logger: TestDatabase.logger).token
        }
        let app = try buildApplication(config: fixture.config)
        try await app.test(.live) { client in
            try await ServerSupport.waitUntilReady(client)
            let port = try #require(client.port)
            let text = """
                {"broker": "http://127.0.0.1:\(port)", "auth": {"token_env": "EXPORT_AIRLOCK_TOKEN"},
                 "credentials": [{"name": "export", "resource": "orders-db", "role": "readonly", "ttl": "10m",
                                  "outputs": [{"format": "dsn", "path": "\(fixture.path("export.dsn"))"}]}]}
                """
            let configuration = try AgentConfiguration.parse(Data(text.utf8), path: "agent.json")
            let running = try fixture.agent(configuration, environment: ["EXPORT_AIRLOCK_TOKEN": service])
            #expect(try await RunningAgent.wait(upTo: 20) { FileManager.default.fileExists(atPath: fixture.path("export.dsn")) })
            let dsn = try String(contentsOfFile: fixture.path("export.dsn"), encoding: .utf8)
            #expect(dsn.hasPrefix("postgres"), "\(dsn.prefix(12))")
            running.stop()
            #expect(try await running.finished() == 0)
            #expect(!fixture.agentLogs.text.contains(service))
        }
    }
}

/// `airlock agent -- COMMAND`: the application runs with the credential in its environment only, is restarted on
/// each rotation, and is stopped before the credential is revoked; when it exits, so does the agent.
@Suite(.serialized)
struct AgentApplicationTests {
    @Test("restarted with each new login; no token or stray libpq variable reaches it; stopped, then revoked, at shutdown",
          .timeLimit(.minutes(3)))
    func restartedOnRotation() async throws {
        let fixture = try await AgentFixture.make()
        let (token, tokenFile) = try await fixture.tokenFile("orders-app", groups: ["apps"])
        let out = fixture.path("started")
        let app = try buildApplication(config: fixture.config)
        try await app.test(.live) { client in
            try await ServerSupport.waitUntilReady(client)
            let port = try #require(client.port)
            let configuration = try fixture.configuration(
                brokerPort: port, tokenFile: tokenFile, name: "orders", ttl: "3s")
            let environment = ["PATH": "/usr/bin:/bin", "AIRLOCK_TOKEN": token, "PGPASSFILE": "/tmp/evil"]
            let script = #"echo "$$ $PGUSER ${AIRLOCK_TOKEN:-no-token} ${PGPASSFILE:-no-passfile} $PGSSLMODE" >> \#(out); exec sleep 60"#
            let running = try fixture.agent(configuration, environment: environment, command: ["/bin/sh", "-c", script])
            let restarted = try await RunningAgent.wait(upTo: 45) {
                ((try? String(contentsOfFile: out, encoding: .utf8)) ?? "").split(separator: "\n").count >= 3
            }
            let lines = ((try? String(contentsOfFile: out, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
            #expect(restarted, "\(lines)")
            let fields = lines.map { $0.split(separator: " ").map(String.init) }
            #expect(fields.allSatisfy { $0.count == 5 && $0[2] == "no-token" && $0[3] == "no-passfile" && $0[4] == "disable" }, "\(lines)")
            #expect(Set(fields.map { $0[1] }).count == lines.count, "a new login each start: \(lines)")
            running.stop()
            #expect(try await running.finished() == 0)
            let last = try #require(fields.last.flatMap { Int32($0[0]) })
            #expect(kill(last, 0) != 0, "the application is stopped")
            #expect(try await fixture.existingRoles(fields.map { $0[1] }).isEmpty)
        }
    }

    @Test("on_rotation signal: the application keeps running and gets SIGHUP on each rotation", .timeLimit(.minutes(2)))
    func signalledOnRotation() async throws {
        let fixture = try await AgentFixture.make()
        let (_, tokenFile) = try await fixture.tokenFile("orders-app", groups: ["apps"])
        let out = fixture.path("hangups")
        let app = try buildApplication(config: fixture.config)
        try await app.test(.live) { client in
            try await ServerSupport.waitUntilReady(client)
            let port = try #require(client.port)
            let configuration = try fixture.configuration(
                brokerPort: port, tokenFile: tokenFile, name: "orders", ttl: "3s",
                extra: #", "application": {"on_rotation": "signal", "signal": "SIGHUP"}"#)
            let script = #"echo "start $$" >> \#(out); trap 'echo "hup $$" >> \#(out)' HUP; while :; do sleep 0.1; done"#
            let running = try fixture.agent(configuration, command: ["/bin/sh", "-c", script])
            let signalled = try await RunningAgent.wait(upTo: 45) {
                ((try? String(contentsOfFile: out, encoding: .utf8)) ?? "").components(separatedBy: "hup").count >= 3
            }
            let lines = ((try? String(contentsOfFile: out, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
            #expect(signalled, "\(lines)")
            #expect(lines.filter { $0.hasPrefix("start") }.count == 1, "never restarted: \(lines)")
            #expect(Set(lines.compactMap { $0.split(separator: " ").last }).count == 1, "one process: \(lines)")
            running.stop()
            #expect(try await running.finished() == 0)
        }
    }

    @Test("stopped while the policy refuses the first credential: the agent returns at once and the command never ran",
          .timeLimit(.minutes(2)))
    func stoppedBeforeAnyCredential() async throws {
        let fixture = try await AgentFixture.make()
        let (_, tokenFile) = try await fixture.tokenFile("stranger", groups: ["nobody"])
        let out = fixture.path("ran")
        let app = try buildApplication(config: fixture.config)
        try await app.test(.live) { client in
            try await ServerSupport.waitUntilReady(client)
            let port = try #require(client.port)
            let configuration = try fixture.configuration(brokerPort: port, tokenFile: tokenFile, name: "orders", ttl: "1h")
            let running = try fixture.agent(configuration, command: ["/bin/sh", "-c", "touch \(out)"])
            #expect(try await RunningAgent.wait(upTo: 20) { fixture.status("orders")?["state"] == "refused" })
            let started = Date()
            running.stop()
            #expect(try await running.finished() == 0)
            #expect(Date().timeIntervalSince(started) < 5)
            #expect(!FileManager.default.fileExists(atPath: out))
            #expect(fixture.status("orders")?["state"] == "stopped")
        }
    }

    @Test("the application exits by itself with 3: the agent revokes and exits with 3")
    func exitsWithTheApplication() async throws {
        let fixture = try await AgentFixture.make()
        let (token, tokenFile) = try await fixture.tokenFile("nightly-batch", groups: ["batch"])
        let app = try buildApplication(config: fixture.config)
        try await app.test(.live) { client in
            try await ServerSupport.waitUntilReady(client)
            let port = try #require(client.port)
            let configuration = try fixture.configuration(
                brokerPort: port, tokenFile: tokenFile, name: "batch", ttl: "1h")
            let running = try fixture.agent(configuration, command: ["/bin/sh", "-c", #"psql_user="$PGUSER"; test -n "$psql_user" && exit 3"#])
            #expect(try await running.finished() == 3)
            let leases = try await client.call(.get, "/v1/leases", token: token).json["items"]?.arrayValue ?? []
            #expect(leases.count == 1 && leases.first?["status"] == "revoked", "\(leases)")
        }
    }
}

/// `airlock agent --dry-run`: the policy's decision for each credential, the token and the files checked, nothing
/// issued.
@Suite(.serialized)
struct AgentDryRunTests {
    @Test("a permit passes; a deny, an unknown resource, an unwritable directory and a refused token fail; nothing is issued")
    func dryRun() async throws {
        let fixture = try await AgentFixture.make()
        let (token, tokenFile) = try await fixture.tokenFile("nightly-batch", groups: ["batch"])
        let app = try buildApplication(config: fixture.config)
        try await app.test(.live) { client in
            try await ServerSupport.waitUntilReady(client)
            let port = try #require(client.port)
            let good = try fixture.configuration(brokerPort: port, tokenFile: tokenFile, name: "batch", ttl: "30m")
            var lines: [String] = []
            #expect(await (try Agent(configuration: good, logger: fixture.agentLogs.logger())).dryRun { lines.append($0) })
            #expect(lines == ["batch: orders-db as readonly for 30m: permit (rules: batch-readonly), at most 30m per credential"], "\(lines)")

            let text = """
                {"broker": "http://127.0.0.1:\(port)", "auth": {"token_file": "\(tokenFile)"},
                 "credentials": [
                   {"name": "write", "resource": "orders-db", "role": "readwrite", "ttl": "10m", "env_prefix": "W_"},
                   {"name": "nowhere", "resource": "no-such-db", "role": "readonly", "ttl": "10m", "env_prefix": "N_",
                    "outputs": [{"format": "env", "path": "/nonexistent-airlock-dir/x.env"}]},
                   {"name": "read", "resource": "orders-db", "role": "readonly", "ttl": "10m"}]}
                """
            let bad = try AgentConfiguration.parse(Data(text.utf8), path: "agent.json")
            lines = []
            #expect(await !(try Agent(configuration: bad, logger: fixture.agentLogs.logger())).dryRun { lines.append($0) })
            #expect(lines.count == 4, "\(lines)")
            #expect(lines.contains { $0.hasPrefix("write: orders-db as readwrite for 10m: deny") }, "\(lines)")
            #expect(lines.contains("nowhere: cannot write `/nonexistent-airlock-dir/x.env`: its directory is missing or not writable"))
            #expect(lines.contains { $0.hasPrefix("nowhere: ") && $0.contains("unknown_resource") }, "\(lines)")
            #expect(lines.contains { $0.hasPrefix("read: orders-db as readonly for 10m: permit") })

            try CredentialFiles.write("not-a-token\n", to: tokenFile)
            lines = []
            #expect(await !(try Agent(configuration: good, logger: fixture.agentLogs.logger())).dryRun { lines.append($0) })
            #expect(lines.count == 1 && lines[0].hasPrefix("batch: ") && lines[0].contains("malformed_token"), "\(lines)")
            let leases = try await client.call(.get, "/v1/leases", token: token).json["items"]?.arrayValue
            #expect(leases == [], "nothing issued")
            #expect(!lines.joined().contains(token))
        }
    }
}
