import AirlockCore
import AirlockServer
import AirlockStore
import AirlockTestSupport
import Foundation
import Hummingbird
import HummingbirdTesting
import PostgresNIO
import Testing
import UnixSignals

/// Continuous evaluation (issue 15, item 5) through the running broker, real logins on a real target: a signal or a
/// policy change that means a lease would no longer be granted ends it at once, with its sessions, and alerts.
@Suite(.serialized)
struct ContinuousEvaluationTests {
    static let policies = """
        permit "sre-readonly"
          when "sre" in principal.groups and resource.env == "prod" and request.role == "readonly"
           and principal has mfa_age and principal.mfa_age <= 15m
          ttl <= 1h;
        forbid "compromised-principal"
          when risk.signals contains_any ["device_compromised", "credential_leaked"]
          notify "security";
        """

    static func lease(_ client: some TestClientProtocol, _ id: String, token: String) async throws -> String? {
        try await client.call(.get, "/v1/leases/\(id)", token: token).json["status"]?.stringValue
    }

    @Test("device_compromised for alice ends every lease of hers before the signal call returns, her open session too, and alerts; bob's lease survives; her next request is denied",
          .timeLimit(.minutes(3)))
    func signalEndsLeases() async throws {
        let fixture = try await AccessFlowFixture.make(policies: Self.policies)
        let app = try buildApplication(config: fixture.config)
        let alice = try await fixture.token("alice", groups: ["sre"], mfa: true)
        let bob = try await fixture.token("bob", groups: ["sre"], mfa: true)
        let admin = try await FlowSteps.adminToken(fixture)
        let test = LeaseRevocationTests()
        try await app.test(.live) { client in
            try await ServerSupport.waitUntilReady(client)
            let first = try await test.issue(client, token: alice, ttl: 1800)
            let second = try await test.issue(client, token: alice, ttl: 1800)
            let bobs = try await test.issue(client, token: bob, ttl: 1800)
            let open = try await LeaseRevocationTests.session(first.user, first.password, on: fixture.target)
            _ = try await open.query("SELECT 1", logger: TestDatabase.logger).collect()

            let signal = try await client.call(.post, "/v1/signals", token: admin, body: """
                {"principal": "alice", "signal": "device_compromised", "severity": "high", "ttl_seconds": 3600}
                """)
            #expect(signal.status == .created, "\(signal.json)")
            // Done by the time the call returned: no waiting here.
            for issued in [first, second] {
                #expect(try await Self.lease(client, issued.lease, token: alice) == "revoked")
                #expect(try await LeaseRevocationTests.roleExists(issued.user, on: fixture.target) == false)
            }
            #expect(try await LeaseRevocationTests.sessions(of: first.user, on: fixture.target) == 0)
            #expect(await runAs(user: first.user, password: first.password, on: fixture.target, "SELECT 1") != nil)
            _ = open  // terminated by the revocation
            #expect(try await Self.lease(client, bobs.lease, token: bob) == "active")
            #expect(try await LeaseRevocationTests.roleExists(bobs.user, on: fixture.target))

            let next = try await client.call(.post, "/v1/access-requests", token: alice, body: """
                {"resource": "orders-db", "role": "readonly", "ttl_seconds": 600, "reason": "again"}
                """)
            #expect(next.json["status"]?.stringValue == "denied", "\(next.json)")
            #expect(next.json["decision"]?["rules"] == ["compromised-principal"])

            let events = try await FlowSteps.events(fixture)
            let revoked = events.filter { $0["type"] == "airlock.credential.revoked" }
            #expect(Set(revoked.compactMap { $0["subject"]?.stringValue }) == [first.lease, second.lease], "\(revoked)")
            for event in revoked {
                #expect(event["data"]?["reason"]?.stringValue
                        == "continuous evaluation: signal device_compromised (high) from token:ops", "\(event)")
            }
            let alerts = events.filter { $0["type"] == "airlock.access.reevaluated" }
            #expect(alerts.count == 1)
            let alert = try #require(alerts.first?["data"])
            #expect(alert["severity"] == "high" && alert["channels"] == ["security"])
            #expect(alert["principal"] == "alice")
            #expect(alert["cause"] == "signal device_compromised (high) from token:ops")
            #expect(Set(alert["leases"]?.arrayValue?.compactMap(\.stringValue) ?? []) == [first.lease, second.lease])
        }
    }

    @Test("a policy change that forbids what was granted ends those leases and closes those approved requests, and only those",
          .timeLimit(.minutes(3)))
    func policyChangeEndsOnlyWhatItForbids() async throws {
        let fixture = try await AccessFlowFixture.make()
        let app = try buildApplication(config: fixture.config)
        let alice = try await fixture.token("alice", groups: ["sre"], mfa: true)
        let bob = try await fixture.token("bob", groups: ["backend"])
        let carol = try await fixture.token("carol", groups: ["db-owners"])
        let dan = try await fixture.token("dan", groups: ["db-owners"])
        let sec = try await fixture.token("sec", groups: ["security"])
        let test = LeaseRevocationTests()
        // Keeps SIGHUP handled in this process for the whole test, whatever the brokers do.
        let hangups = await UnixSignalsSequence(trapping: .sighup)
        _ = hangups
        let write = try await app.test(.live) { client -> String in
            try await ServerSupport.waitUntilReady(client)
            let read = try await test.issue(client, token: alice, ttl: 1800)
            // bob's write, approved and not picked up yet.
            let write = try await FlowSteps.approvedWrite(client, requester: bob, approvers: [carol, dan, sec], ttl: 600)

            // The new set forbids writes to production; reads stay as they were.
            let directory = fixture.config.settings.policiesDirectory
            try Data((AccessFlowFixture.policies + """

                forbid "no-prod-writes" when request.role == "readwrite";
                """).utf8).write(to: URL(fileURLWithPath: directory).appendingPathComponent("main.airlock"))
            kill(getpid(), SIGHUP)
            var status: String?
            for _ in 0..<100 {
                status = try await client.call(.get, "/v1/access-requests/\(write)", token: bob).json["status"]?.stringValue
                if status == "denied" { break }
                try await Task.sleep(for: .milliseconds(100))
            }
            #expect(status == "denied")
            let pickUp = try await FlowSteps.pickUp(client, write, token: bob)
            #expect(pickUp.status != .ok, "\(pickUp.json)")
            #expect(try await Self.lease(client, read.lease, token: alice) == "active")
            #expect(try await LeaseRevocationTests.roleExists(read.user, on: fixture.target))
            return write
        }
        let events = try await FlowSteps.events(fixture)
        let denied = events.filter { $0["type"] == "airlock.access.denied" && $0["subject"]?.stringValue == write }
        #expect(denied.first?["data"]?["reason"] == "continuous_evaluation", "\(denied)")
        let alert = try #require(events.first { $0["type"] == "airlock.access.reevaluated" }?["data"])
        #expect(alert["requests"] == [.string(write)] && alert["leases"] == [])
        #expect(alert["cause"]?.stringValue?.hasPrefix("policy set ") == true)
    }

    @Test("two brokers re-evaluating at once (a signal to each) revoke each lease once and name it in one alert",
          .timeLimit(.minutes(3)))
    func twoBrokersRevokeOnce() async throws {
        let fixture = try await AccessFlowFixture.make(policies: Self.policies)
        let appA = try buildApplication(config: fixture.config)
        let appB = try buildApplication(config: fixture.config)
        let alice = try await fixture.token("alice", groups: ["sre"], mfa: true)
        let admin = try await FlowSteps.adminToken(fixture)
        let test = LeaseRevocationTests()
        let issued = try await appA.test(.live) { clientA in
            try await appB.test(.live) { clientB in
                try await ServerSupport.waitUntilReady(clientA)
                try await ServerSupport.waitUntilReady(clientB)
                var issued: [String] = []
                for _ in 0..<4 { issued.append(try await test.issue(clientA, token: alice, ttl: 1800).lease) }
                async let a = clientA.call(.post, "/v1/signals", token: admin, body: """
                    {"principal": "alice", "signal": "device_compromised", "severity": "high", "ttl_seconds": 600}
                    """)
                async let b = clientB.call(.post, "/v1/signals", token: admin, body: """
                    {"principal": "alice", "signal": "credential_leaked", "severity": "critical", "ttl_seconds": 600}
                    """)
                let (first, second) = try await (a, b)
                #expect(first.status == .created && second.status == .created)
                for lease in issued {
                    var status: String?
                    for _ in 0..<100 {
                        status = try await Self.lease(clientA, lease, token: alice)
                        if status == "revoked" { break }
                        try await Task.sleep(for: .milliseconds(50))
                    }
                    #expect(status == "revoked")
                }
                return issued
            }
        }
        let events = try await FlowSteps.events(fixture)
        let revoked = events.filter { $0["type"] == "airlock.credential.revoked" }.compactMap { $0["subject"]?.stringValue }
        #expect(revoked.sorted() == issued.sorted(), "each lease revoked exactly once: \(revoked)")
        let named = events.filter { $0["type"] == "airlock.access.reevaluated" }
            .flatMap { $0["data"]?["leases"]?.arrayValue?.compactMap(\.stringValue) ?? [] }
        #expect(named.sorted() == issued.sorted(), "each lease named by exactly one alert: \(named)")
    }
}
