import AirlockLocalCluster
import Foundation
import Testing

/// `airlock revoke --principal ID` (issue 10, item 6): the kill switch from the CLI, for any principal id.
struct RevokeCommandTests {
    @Test func revokeNeedsExactlyOneTarget() async throws {
        let home = ["AIRLOCK_HOME": ClientCommandTests.home()]
        let neither = try await AirlockBinary.run(["revoke", "--token", "t"], environment: home)
        #expect(neither.status != 0 && neither.errors.contains("give a lease id, or --principal ID"), "\(neither.errors)")
        let both = try await AirlockBinary.run(["revoke", "some-lease", "--principal", "bob", "--token", "t"], environment: home)
        #expect(both.status != 0 && both.errors.contains("not both"), "\(both.errors)")
    }

    /// Against a real `airlock dev`: `repo:org/app` holds a lease and an approved request; the admin pulls the
    /// switch by the id as Airlock shows it (the CLI percent-encodes `:` and `/` into the path).
    @Test(.timeLimit(.minutes(3)))
    func revokeAllOfAnIdWithASlash() async throws {
        let dev = try await DevBroker.start()
        defer { dev.stop() }
        let env = dev.environment
        let admin = dev.adminToken

        let login = try await AirlockBinary.run(["login", "--dev", "repo:org/app", "--groups", "sre", "--mfa"], environment: env)
        #expect(login.status == 0, "\(login.errors)")
        let first = try await AirlockBinary.run(ClientCommandTests.ask, environment: env)
        let id = try #require(first.output.split(separator: " ").dropFirst().first.map(String.init), "\(first.output)")
        let creds = try await AirlockBinary.run(["creds", id, "--format", "json"], environment: env)
        #expect(creds.status == 0, "\(creds.errors)")
        let waiting = try await AirlockBinary.run(ClientCommandTests.ask, environment: env)
        #expect(waiting.output.contains("approved"), "\(waiting.output)")

        let listed = try await AirlockBinary.run(["leases", "--json"], environment: env)
        let items = (try JSONSerialization.jsonObject(with: Data(listed.output.utf8)) as? [String: Any])?["items"] as? [[String: Any]]
        let principal = try #require(items?.first?["principal"] as? String, "\(listed.output)")
        #expect(principal.contains("/"))

        let revoke = try await AirlockBinary.run(["revoke", "--principal", principal, "--token", admin], environment: env)
        #expect(revoke.status == 0, "\(revoke.errors)")
        #expect(revoke.output.contains("1 lease(s) ended, 1 open request(s) closed"), "\(revoke.output)")
        #expect(revoke.output.contains("approved -> revoked"), "\(revoke.output)")

        let after = try await AirlockBinary.run(["leases", "--json"], environment: env)
        let ended = (try JSONSerialization.jsonObject(with: Data(after.output.utf8)) as? [String: Any])?["items"] as? [[String: Any]]
        #expect(ended?.allSatisfy { $0["status"] as? String == "revoked" } == true, "\(after.output)")
    }
}
