import AirlockLocalCluster
import Foundation
import Testing

/// The client commands (`login`, `request`, `creds`, `exec`, ...) run as the built binary: their errors read
/// like a person wrote them, the token file is private, and against a real `airlock dev` a permitted request
/// yields a credential once.
struct ClientCommandTests {
    /// A fresh `AIRLOCK_HOME` (not created: `login` creates it).
    static func home() -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("airlock-home-\(UUID().uuidString)").path
    }

    static let ask = ["request", "orders-staging", "--role", "readonly", "--ttl", "30m", "--reason", "testing"]

    @Test func requestWithoutATokenExplainsHowToLogIn() async throws {
        let result = try await AirlockBinary.run(Self.ask, environment: ["AIRLOCK_HOME": Self.home()])
        #expect(result.status == 1)
        #expect(result.errors.hasPrefix("error: not logged in"), "\(result.errors)")
        #expect(result.errors.contains("airlock login --dev USER"))
        #expect(result.output.isEmpty)
    }

    @Test(arguments: ["3x", "30", "m", "1m1h", "0s"])
    func badDurationIsAClearError(_ ttl: String) async throws {
        let arguments = ["request", "orders-staging", "--role", "readonly", "--ttl", ttl, "--reason", "x", "--token", "t"]
        let result = try await AirlockBinary.run(arguments, environment: ["AIRLOCK_HOME": Self.home()])
        #expect(result.status != nil && result.status != 0)
        #expect(result.errors.contains("--ttl `\(ttl)` is not a duration such as 30s, 15m, 1h, 2d or 1h30m"),
                "\(result.errors)")
    }

    @Test func unreachableBrokerSaysSoWithoutTheToken() async throws {
        let secret = "alk_doNotPrintThisToken123"
        let result = try await AirlockBinary.run(
            Self.ask + ["--addr", "http://127.0.0.1:1", "--token", secret], environment: ["AIRLOCK_HOME": Self.home()])
        #expect(result.status == 1)
        #expect(result.errors.contains("cannot reach the broker at http://127.0.0.1:1: is `airlock dev` running?"),
                "\(result.errors)")
        #expect(!result.errors.contains(secret) && !result.output.contains(secret))
    }

    @Test func loginStoresATokenPrivately() async throws {
        let home = Self.home()
        defer { try? FileManager.default.removeItem(atPath: home) }
        let secret = "alk_storedTokenForTheTest456"
        let login = try await AirlockBinary.run(
            ["login", "--token", secret, "--addr", "http://127.0.0.1:1"], environment: ["AIRLOCK_HOME": home])
        #expect(login.status == 0, "\(login.errors)")
        #expect(!login.output.contains(secret))
        let file = home + "/token"
        let attributes = try FileManager.default.attributesOfItem(atPath: file)
        #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o600)
        let directory = try FileManager.default.attributesOfItem(atPath: home)
        #expect((directory[.posixPermissions] as? NSNumber)?.intValue == 0o700)
        #expect(try String(contentsOfFile: file, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines) == secret)

        // The stored token is used: the failure is now about the broker, not about logging in.
        let request = try await AirlockBinary.run(
            Self.ask + ["--addr", "http://127.0.0.1:1"], environment: ["AIRLOCK_HOME": home])
        #expect(request.errors.contains("cannot reach the broker"), "\(request.errors)")
        #expect(!request.errors.contains(secret))
    }

    @Test func loginRemembersTheBrokerAddress() async throws {
        let home = Self.home()
        defer { try? FileManager.default.removeItem(atPath: home) }
        let login = try await AirlockBinary.run(
            ["login", "--token", "alk_rememberedAddress789", "--addr", "http://127.0.0.1:2/"], environment: ["AIRLOCK_HOME": home])
        #expect(login.status == 0, "\(login.errors)")
        let request = try await AirlockBinary.run(Self.ask, environment: ["AIRLOCK_HOME": home])
        #expect(request.errors.contains("cannot reach the broker at http://127.0.0.1:2"), "\(request.errors)")
        let flag = try await AirlockBinary.run(Self.ask + ["--addr", "http://127.0.0.1:3"], environment: ["AIRLOCK_HOME": home])
        #expect(flag.errors.contains("the stored token was issued for http://127.0.0.1:2, not http://127.0.0.1:3"),
                "\(flag.errors)")
    }

    @Test func loginDevWithoutADevBrokerNamesTheKeyFile() async throws {
        let result = try await AirlockBinary.run(
            ["login", "--dev", "alice", "--addr", "http://127.0.0.1:1"], environment: ["AIRLOCK_HOME": Self.home()])
        #expect(result.status == 1)
        #expect(result.errors.contains("no dev issuer key at \(DevHygieneTests.runtimeDirectory)/dev-1-issuer.json"),
                "\(result.errors)")
    }

    @Test func usageErrors() async throws {
        let home = ["AIRLOCK_HOME": Self.home()]
        let exec = try await AirlockBinary.run(["exec", "some-id", "--token", "t"], environment: home)
        #expect(exec.status != 0 && exec.errors.contains("give the command after `--`"), "\(exec.errors)")
        let creds = try await AirlockBinary.run(["creds", "some-id", "--format", "xml", "--token", "t"], environment: home)
        #expect(creds.status != 0 && creds.errors.contains("xml"), "\(creds.errors)")
        let command = try await AirlockBinary.run(Self.ask + ["--token", "t", "--", "psql"], environment: home)
        #expect(command.status != 0 && command.errors.contains("needs --wait"), "\(command.errors)")
    }

    /// Against a real `airlock dev`: log in as an SRE, get staging access (permitted by policy), pick the
    /// credential up once, and run a command with another one.
    @Test(.timeLimit(.minutes(3)))
    func requestAndPickUpAgainstDev() async throws {
        let dev = try await DevBroker.start()
        defer { dev.stop() }
        let (broker, env, home) = (dev.address, dev.environment, dev.home)
        let adminToken = dev.adminToken

        let login = try await AirlockBinary.run(["login", "--dev", "alice", "--groups", "sre", "--mfa"], environment: env)
        #expect(login.status == 0, "\(login.errors)")
        #expect(login.output.contains("logged in as alice (principal id alice)"), "\(login.output)")

        let request = try await AirlockBinary.run(Self.ask, environment: env)
        #expect(request.status == 0, "\(request.errors)")
        #expect(request.output.contains("approved"), "\(request.output)")
        #expect(request.output.contains("staging-engineers"))
        let id = try #require(request.output.split(separator: " ").dropFirst().first.map(String.init))

        let creds = try await AirlockBinary.run(["creds", id, "--format", "json"], environment: env)
        #expect(creds.status == 0, "\(creds.errors)")
        let credential = try #require(try JSONSerialization.jsonObject(with: Data(creds.output.utf8)) as? [String: Any])
        #expect(credential["kind"] as? String == "postgres")
        #expect(credential["database"] as? String == "orders_staging")
        let password = try #require(credential["password"] as? String)
        #expect(!creds.errors.contains(password))

        let again = try await AirlockBinary.run(["creds", id], environment: env)
        #expect(again.status == 1)
        #expect(again.errors.hasPrefix("error: "), "\(again.errors)")
        #expect(!again.output.contains(password))
        #expect(again.errors.contains("(already_retrieved)"), "\(again.errors)")

        let denied = try await AirlockBinary.run(
            ["request", "orders-staging", "--role", "nope", "--ttl", "1h", "--reason", "x"], environment: env)
        #expect(denied.status == 1)
        #expect(denied.errors.contains("has no role `nope`") && denied.errors.contains("(unknown_role)"), "\(denied.errors)")

        // request --wait -- COMMAND: the child sees PG* and not AIRLOCK_TOKEN; the parent never prints the password.
        let token = try String(contentsOfFile: home + "/token", encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let secretFile = home + "/child-password"
        let script = "test -z \"$AIRLOCK_TOKEN\" || exit 9; printf %s \"$PGPASSWORD\" > \(secretFile); "
            + "echo \"child sees $PGUSER@$PGHOST:$PGPORT/$PGDATABASE\"; exit 7"
        let run = try await AirlockBinary.run(
            Self.ask + ["--wait", "--", "sh", "-c", script], environment: env.merging(["AIRLOCK_TOKEN": token]) { $1 })
        #expect(run.status == 7, "\(run.errors)")
        #expect(run.output.contains("child sees airlock_readonly_"), "\(run.output)")
        #expect(run.output.contains("/orders_staging"))
        let childPassword = try String(contentsOfFile: secretFile, encoding: .utf8)
        #expect(!childPassword.isEmpty)
        #expect(!run.output.contains(childPassword) && !run.errors.contains(childPassword))

        let leases = try await AirlockBinary.run(["leases"], environment: env)
        #expect(leases.status == 0)
        #expect(leases.output.split(separator: "\n").filter { $0.contains("orders-staging/readonly") }.count == 2)

        // renew, then revoke, one of alice's leases.
        let listed = try await AirlockBinary.run(["leases", "--json"], environment: env)
        let items = (try JSONSerialization.jsonObject(with: Data(listed.output.utf8)) as? [String: Any])?["items"] as? [[String: Any]]
        let lease = try #require(items?.first(where: { $0["status"] as? String == "active" })?["id"] as? String, "\(listed.output)")
        let renew = try await AirlockBinary.run(["renew", lease, "--ttl", "45m"], environment: env)
        #expect(renew.status == 0 && renew.output.contains("active until"), "\(renew.output)\(renew.errors)")
        let revoke = try await AirlockBinary.run(["revoke", lease], environment: env)
        #expect(revoke.status == 0 && revoke.output.contains(": revoked"), "\(revoke.output)\(revoke.errors)")

        // The audit chain from the broker, as the admin (scopes admin and auditor).
        var tail = try await AirlockBinary.run(
            ["audit", "tail", "--json", "--type", "airlock.credential.", "--token", adminToken], environment: env)
        for _ in 0..<20 where !tail.output.contains("airlock.credential.revoked") {  // chained within a moment
            try await Task.sleep(for: .milliseconds(200))
            tail = try await AirlockBinary.run(
                ["audit", "tail", "--json", "--type", "airlock.credential.", "--token", adminToken], environment: env)
        }
        #expect(tail.status == 0, "\(tail.errors)")
        let events = tail.output.split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
        #expect(events.contains { $0["type"] as? String == "airlock.credential.issued" && $0["sequence"] is Int })
        #expect(events.contains { $0["type"] as? String == "airlock.credential.revoked" }, "\(tail.output)")
        #expect(!tail.output.contains(childPassword))
        let human = try await AirlockBinary.run(["audit", "tail", "--limit", "3", "--token", adminToken], environment: env)
        #expect(human.status == 0 && human.output.split(separator: "\n").count == 3, "\(human.output)")

        // A CI service: `credentials` in one call; the child gets AIRLOCK_CREDENTIAL_TOKEN and not AIRLOCK_TOKEN.
        let ciHome = Self.home()
        defer { try? FileManager.default.removeItem(atPath: ciHome) }
        let ciEnv = ["AIRLOCK_HOME": ciHome, "AIRLOCK_ADDR": broker]
        let ciLogin = try await AirlockBinary.run(["login", "--dev", "ci-bot", "--groups", "ci", "--service"], environment: ciEnv)
        #expect(ciLogin.status == 0, "\(ciLogin.errors)")
        // Issue 10, item 3: the login says which principal id the broker sees (qualified by the workload issuer).
        #expect(ciLogin.output.contains("principal id airlock-dev-workload#ci-bot"), "\(ciLogin.output)")
        let tokenFile = ciHome + "/child-token"
        let ciScript = "test -z \"$AIRLOCK_TOKEN\" || exit 9; printf %s \"$AIRLOCK_CREDENTIAL_TOKEN\" > \(tokenFile)"
        let oneCall = try await AirlockBinary.run(
            ["credentials", "payments-api", "--role", "read", "--ttl", "5m", "--", "sh", "-c", ciScript], environment: ciEnv)
        #expect(oneCall.status == 0, "\(oneCall.errors)")
        let childToken = try String(contentsOfFile: tokenFile, encoding: .utf8)
        #expect(childToken.hasPrefix("alkc_"))
        #expect(!oneCall.output.contains(childToken) && !oneCall.errors.contains(childToken))
        let json = try await AirlockBinary.run(
            ["credentials", "payments-api", "--role", "read", "--ttl", "5m", "--format", "json"], environment: ciEnv)
        #expect(json.status == 0 && json.output.contains(#""kind":"token""#), "\(json.errors)")
        let write = try await AirlockBinary.run(
            ["credentials", "payments-api", "--role", "write", "--ttl", "5m"], environment: ciEnv)
        #expect(write.status == 1)
        #expect(write.errors.contains("(policy_denied)") && write.errors.contains("decision: deny"), "\(write.errors)")
        #expect(write.errors.contains("services-no-prod-write"), "\(write.errors)")

        dev.running.process.interrupt()
        #expect(try await dev.running.wait(upTo: .seconds(60)) == 0, "stderr: \(dev.running.errors)")
    }
}
