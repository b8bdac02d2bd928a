import AirlockCore
import AirlockServer
import AirlockStore
import AirlockTestSupport
import Foundation
import HummingbirdTesting
import Testing

/// The main job end to end, through the real HTTP server and a real target database.
@Suite(.serialized)
struct AccessFlowTests {
    @Test(.timeLimit(.minutes(3)))
    func aliceGetsReadOnlyAtOnceAndBobsWriteNeedsThreeApprovals() async throws {
        let fixture = try await AccessFlowFixture.make()
        let logs = CapturedLogs()
        var config = fixture.config
        config.logger = logs.logger()
        let app = try buildApplication(config: config)
        let brokerURL = try #require(config.settings.databaseURL)
        let secrets = CapturedLogs()   // used as a thread-safe list of strings
        let bodies = CapturedLogs()
        let alice = try await fixture.token("alice", groups: ["sre"], mfa: true)
        let bob = try await fixture.token("bob", groups: ["backend"])
        let carol = try await fixture.token("carol", groups: ["db-owners"])
        let dave = try await fixture.token("dave", groups: ["db-owners", "security"])
        let erin = try await fixture.token("erin", groups: ["security"])

        try await app.test(.live) { client in
            try await ServerSupport.waitUntilReady(client)

            // alice: permitted at once, read-only.
            let asked = try await client.call(.post, "/v1/access-requests", token: alice, body: """
                {"resource": "orders-db", "role": "readonly", "ttl_seconds": 1800, "reason": "INC-4411"}
                """)
            #expect(asked.status == .created, "\(asked.json)")
            #expect(asked.json["status"]?.stringValue == "approved")
            #expect(asked.json["decision"]?["decision"]?.stringValue == "permit")
            let id = try #require(asked.json["id"]?.stringValue)
            let creds = try await client.call(.get, "/v1/access-requests/\(id)/credentials", token: alice)
            #expect(creds.status == .ok, "\(creds.json)")
            let user = try #require(creds.json["username"]?.stringValue)
            let password = try #require(creds.json["password"]?.stringValue)
            secrets.append(password)
            #expect(user.hasPrefix("airlock_readonly_"))
            #expect(password.count >= 32)
            #expect(await runAs(user: user, password: password, on: fixture.target, "SELECT count(*) FROM customers") == nil)
            let insert = await runAs(user: user, password: password, on: fixture.target,
                                     "INSERT INTO customers (name) VALUES ('Mallory')")
            #expect(insert?.contains("permission denied") == true, "\(insert ?? "insert succeeded")")
            let elsewhere = await runAs(user: user, password: password, on: fixture.otherDatabase, "SELECT 1")
            #expect(elsewhere != nil, "the login reached another database")
            let broker = await runAs(user: user, password: password, on: brokerURL, "SELECT 1")
            #expect(broker != nil, "the login reached the broker's own database")
            let again = try await client.call(.get, "/v1/access-requests/\(id)/credentials", token: alice)
            bodies.append("\(again.json)")
            #expect(again.status == .gone)
            #expect(again.json["error"]?["code"]?.stringValue == "already_retrieved")

            // bob: pending until two db-owners and one security approver agree.
            let write = try await client.call(.post, "/v1/access-requests", token: bob, body: """
                {"resource": "orders-db", "role": "readwrite", "ttl_seconds": 600, "reason": "fix order 42"}
                """)
            #expect(write.json["status"]?.stringValue == "pending_approval", "\(write.json)")
            let writeID = try #require(write.json["id"]?.stringValue)
            #expect(write.json["approvers"]?[0]?["requires"]?.arrayValue?.count == 2)
            let early = try await client.call(.get, "/v1/access-requests/\(writeID)/credentials", token: bob)
            #expect(early.status == .conflict)
            #expect(early.json["error"]?["code"]?.stringValue == "not_approved")
            let own = try await client.call(.post, "/v1/access-requests/\(writeID)/approve", token: bob, body: "{}")
            #expect(own.status == .forbidden)
            #expect(own.json["error"]?["code"]?.stringValue == "self_approval")
            let first = try await client.call(.post, "/v1/access-requests/\(writeID)/approve", token: carol,
                                               body: #"{"comment": "ok"}"#)
            #expect(first.json["status"]?.stringValue == "pending_approval")
            let twice = try await client.call(.post, "/v1/access-requests/\(writeID)/approve", token: carol, body: "{}")
            #expect(twice.status == .conflict)
            #expect(twice.json["error"]?["code"]?.stringValue == "already_reviewed")
            let pending = try await client.call(.get, "/v1/access-requests?status=pending_approval", token: dave)
            #expect(pending.json["items"]?.arrayValue?.contains { $0["id"]?.stringValue == writeID } == true)
            // dave is in both groups: he counts once, toward whichever requirement lets the request through.
            let second = try await client.call(.post, "/v1/access-requests/\(writeID)/approve", token: dave, body: "{}")
            #expect(second.json["status"]?.stringValue == "pending_approval", "\(second.json)")
            let third = try await client.call(.post, "/v1/access-requests/\(writeID)/approve", token: erin, body: "{}")
            #expect(third.json["status"]?.stringValue == "approved", "\(third.json)")
            let writeCreds = try await client.call(.get, "/v1/access-requests/\(writeID)/credentials", token: bob)
            #expect(writeCreds.status == .ok, "\(writeCreds.json)")
            let writer = try #require(writeCreds.json["username"]?.stringValue)
            let writerPassword = try #require(writeCreds.json["password"]?.stringValue)
            secrets.append(writerPassword)
            for body in [own.json, twice.json, early.json, pending.json, third.json] { bodies.append("\(body)") }
            #expect(await runAs(user: writer, password: writerPassword, on: fixture.target,
                                "INSERT INTO customers (name) VALUES ('Katherine')") == nil)
        }

        // No password or token in any log line, audit event or error body.
        for token in [alice, bob, carol, dave, erin, fixture.target.password ?? "no admin password"] { secrets.append(token) }
        let events = try await AuditReader.events(at: try #require(config.settings.databaseURL)).map(\.event)
        #expect(events.count >= 8, "expected the flow's audit events")
        #expect(events.contains { $0.contains("airlock.credential.issued") })
        let haystacks = logs.all + events + bodies.all
        #expect(logs.all.count > 10, "expected request logs")
        #expect(secrets.all.count == 8)
        for secret in secrets.all {
            for text in haystacks where text.contains(secret) {
                Issue.record("a secret leaked into: \(text.prefix(200))")
            }
        }
    }

    @Test(.timeLimit(.minutes(2)))
    func aLoginStopsWorkingAfterItsTTL() async throws {
        let fixture = try await AccessFlowFixture.make()
        let app = try buildApplication(config: fixture.config)
        let alice = try await fixture.token("alice", groups: ["sre"], mfa: true)
        try await app.test(.live) { client in
            try await ServerSupport.waitUntilReady(client)
            let asked = try await client.call(.post, "/v1/access-requests", token: alice, body: """
                {"resource": "orders-db", "role": "readonly", "ttl_seconds": 6, "reason": "quick look"}
                """)
            let id = try #require(asked.json["id"]?.stringValue)
            let creds = try await client.call(.get, "/v1/access-requests/\(id)/credentials", token: alice)
            let user = try #require(creds.json["username"]?.stringValue)
            let password = try #require(creds.json["password"]?.stringValue)
            let expiry = try #require(creds.json["expires_at"]?.stringValue.flatMap { try? Date($0, strategy: .iso8601) })
            #expect(await runAs(user: user, password: password, on: fixture.target, "SELECT 1") == nil)
            try await Task.sleep(for: .seconds(max(0, expiry.timeIntervalSinceNow) + 1.5))
            let late = await runAs(user: user, password: password, on: fixture.target, "SELECT 1")
            #expect(late != nil, "a login past its VALID UNTIL still worked")
        }
    }
}
