import Foundation
import Testing

/// Issue 12 through the CLI, against a real `airlock dev` and the example `Policies/`: the owning team approves a
/// sensitive production read (`group(resource.owner)`), `pending` names who may still approve, someone else is
/// refused with `not_an_approver`, and a requester who is their own manager is told their break-glass rule can never
/// be approved.
struct ApprovalRoutingCommandTests {
    static func env(_ dev: DevBroker, _ home: String) -> [String: String] {
        ["AIRLOCK_HOME": home, "AIRLOCK_ADDR": dev.address]
    }

    @Test(.timeLimit(.minutes(3)))
    func owningTeamApprovesAndPendingSaysWho() async throws {
        let dev = try await DevBroker.start()
        defer { dev.stop() }
        var homes: [String] = []
        defer { for home in homes { try? FileManager.default.removeItem(atPath: home) } }
        func login(_ arguments: [String]) async throws -> [String: String] {
            let home = ClientCommandTests.home()
            homes.append(home)
            let env = Self.env(dev, home)
            let result = try await AirlockBinary.run(["login", "--dev"] + arguments, environment: env)
            #expect(result.status == 0, "\(result.errors)")
            return env
        }
        let erin = try await login(["erin", "--groups", "backend", "--manager", "gina"])
        let pat = try await login(["pat", "--groups", "payments"])
        let sam = try await login(["sam", "--groups", "search"])
        let gina = try await login(["gina", "--groups", "backend", "--manager", "gina"])

        // erin reads orders-db (owned by payments): pending on one member of payments.
        let asked = try await AirlockBinary.run(
            ["request", "orders-db", "--role", "readonly", "--ttl", "30m", "--reason", "ticket 1187"], environment: erin)
        #expect(asked.status == 0, "\(asked.errors)")
        #expect(asked.output.contains("pending_approval") && asked.output.contains("needs: 1 more from payments"),
                "\(asked.output)")
        let id = try #require(asked.output.split(separator: " ").dropFirst().first.map(String.init), "\(asked.output)")

        // pat (payments) sees it and what it needs; sam (search) sees nothing and may not approve it.
        let patPending = try await AirlockBinary.run(["pending"], environment: pat)
        #expect(patPending.status == 0 && patPending.output.contains(id), "\(patPending.output)\(patPending.errors)")
        #expect(patPending.output.contains("needs: 1 more from payments"), "\(patPending.output)")
        // What pat judges by: the risk with each signal and why, and the requester's context.
        #expect(patPending.output.contains("  risk: "), "\(patPending.output)")
        #expect(patPending.output.contains("first_use_of_resource +10: first request for orders-db"), "\(patPending.output)")
        #expect(patPending.output.contains("peers with this access: 0 of "), "\(patPending.output)")
        #expect(patPending.output.contains("first use of this resource"), "\(patPending.output)")
        let samPending = try await AirlockBinary.run(["pending"], environment: sam)
        #expect(samPending.output.contains("nothing waiting for your approval"), "\(samPending.output)")
        let samApproves = try await AirlockBinary.run(["approve", id], environment: sam)
        #expect(samApproves.status == 1 && samApproves.errors.contains("(not_an_approver)"), "\(samApproves.errors)")
        let badReason = try await AirlockBinary.run(["approve", id, "--relied-on", "gut"], environment: pat)
        #expect(badReason.status == 1 && badReason.errors.contains("relied_on"), "\(badReason.errors)")
        let patApproves = try await AirlockBinary.run(
            ["approve", id, "--comment", "ok", "--relied-on", "risk,first_use"], environment: pat)
        #expect(patApproves.status == 0 && patApproves.output.contains("approved"), "\(patApproves.output)\(patApproves.errors)")

        // gina, her own manager, breaks glass off call: the manager's rule can never be approved, and says why;
        // the ordinary production-write approval remains the way through.
        let own = try await AirlockBinary.run(
            ["request", "orders-db", "--role", "readwrite", "--ttl", "30m", "--reason", "INC-7 refunds", "--break-glass"],
            environment: gina)
        #expect(own.status == 0, "\(own.errors)")
        #expect(own.output.contains("break-glass-off-call can never be approved"), "\(own.output)")
        #expect(own.output.contains("`gina` is the requester, who never counts"), "\(own.output)")
        #expect(own.output.contains("2 more from db-owners and 1 more from security"), "\(own.output)")
    }
}
