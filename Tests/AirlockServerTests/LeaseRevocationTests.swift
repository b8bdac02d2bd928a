import AirlockCore
import AirlockServer
import AirlockStore
import AirlockTestSupport
import Foundation
import HummingbirdTesting
import PostgresNIO
import Testing

/// Credentials never outlive their lease: at expiry, on revoke and on revoke-all the login is dropped and its open
/// sessions end (VALID UNTIL alone stops only new logins).
@Suite(.serialized)
struct LeaseRevocationTests {
    /// An open session as `user`, for checking that revocation ends it.
    static func session(_ user: String, _ password: String, on url: DatabaseURL) async throws -> PostgresConnection {
        var login = url
        login.username = user
        login.password = password
        return try await PostgresConnection.connect(
            configuration: try login.connectionConfiguration(), id: 7, logger: TestDatabase.logger)
    }

    static func roleExists(_ name: String, on url: DatabaseURL) async throws -> Bool {
        try await TestDatabase.withExisting(url) { database in
            let rows = try await database.client.query(
                "SELECT count(*)::int8 FROM pg_roles WHERE rolname = \(name)", logger: TestDatabase.logger)
            for try await count in rows.decode(Int64.self) { return count > 0 }
            return false
        }
    }

    /// Sessions of `user` on the target's cluster (asked as the admin: a query on a connection the server has
    /// terminated is not something to wait on).
    static func sessions(of user: String, on url: DatabaseURL) async throws -> Int64 {
        try await TestDatabase.withExisting(url) { database in
            let rows = try await database.client.query(
                "SELECT count(*)::int8 FROM pg_stat_activity WHERE usename = \(user)", logger: TestDatabase.logger)
            for try await count in rows.decode(Int64.self) { return count }
            return -1
        }
    }

    static func events(_ fixture: AccessFlowFixture) async throws -> [String] {
        try await AuditReader.events(at: try #require(fixture.config.settings.databaseURL)).map(\.type)
    }

    func issue(_ client: some TestClientProtocol, token: String, ttl: Int) async throws -> (lease: String, user: String, password: String) {
        let asked = try await client.call(.post, "/v1/access-requests", token: token, body: """
            {"resource": "orders-db", "role": "readonly", "ttl_seconds": \(ttl), "reason": "INC-1"}
            """)
        let id = try #require(asked.json["id"]?.stringValue, "\(asked.json)")
        let creds = try await client.call(.get, "/v1/access-requests/\(id)/credentials", token: token)
        return (try #require(creds.json["lease_id"]?.stringValue), try #require(creds.json["username"]?.stringValue),
                try #require(creds.json["password"]?.stringValue))
    }

    @Test("at expiry the login is dropped and its open session ends (real clock)", .timeLimit(.minutes(2)))
    func expiry() async throws {
        let fixture = try await AccessFlowFixture.make()
        let app = try buildApplication(config: fixture.config)
        let alice = try await fixture.token("alice", groups: ["sre"], mfa: true)
        try await app.test(.live) { client in
            try await ServerSupport.waitUntilReady(client)
            // Long enough to open a session before it ends on a loaded machine.
            let (lease, user, password) = try await issue(client, token: alice, ttl: 8)
            let open = try await Self.session(user, password, on: fixture.target)
            _ = try await open.query("SELECT 1", logger: TestDatabase.logger).collect()
            #expect(try await Self.sessions(of: user, on: fixture.target) == 1)
            var status = ""
            for _ in 0..<100 where status != "expired" {
                try await Task.sleep(for: .milliseconds(250))
                status = try await client.call(.get, "/v1/leases/\(lease)", token: alice).json["status"]?.stringValue ?? ""
            }
            #expect(status == "expired")
            _ = open  // terminated by the revocation; not used again
            #expect(try await Self.sessions(of: user, on: fixture.target) == 0)
            #expect(try await Self.roleExists(user, on: fixture.target) == false)
            #expect(await runAs(user: user, password: password, on: fixture.target, "SELECT 1") != nil)
        }
        let events = try await Self.events(fixture)
        #expect(events.contains("airlock.credential.revoked") && events.contains("airlock.lease.expired"))
    }

    @Test("revoke ends one lease now; revoke-all ends every lease of a principal; only owners and admins may")
    func revokeAndRevokeAll() async throws {
        let fixture = try await AccessFlowFixture.make()
        let app = try buildApplication(config: fixture.config)
        let alice = try await fixture.token("alice", groups: ["sre"], mfa: true)
        let mallory = try await fixture.token("mallory", groups: ["sre"], mfa: true)
        let admin = try await TestDatabase.withExisting(try #require(fixture.config.settings.databaseURL)) { database in
            try await ApiTokenStore(database: database, auditLog: AuditLog(source: "/airlock/test"))
                .create(name: "ops", scopes: ["admin"], logger: TestDatabase.logger).token
        }
        try await app.test(.live) { client in
            try await ServerSupport.waitUntilReady(client)
            let first = try await issue(client, token: alice, ttl: 1800)
            let second = try await issue(client, token: alice, ttl: 1800)
            let third = try await issue(client, token: alice, ttl: 1800)
            let open = try await Self.session(first.user, first.password, on: fixture.target)
            #expect(try await Self.sessions(of: first.user, on: fixture.target) == 1)

            let stranger = try await client.call(.post, "/v1/leases/\(first.lease)/revoke", token: mallory)
            #expect(stranger.status == .notFound)
            let revoked = try await client.call(.post, "/v1/leases/\(first.lease)/revoke", token: alice)
            #expect(revoked.status == .ok && revoked.json["status"] == "revoked", "\(revoked.json)")
            #expect(revoked.json["revoked_at"]?.stringValue != nil)
            _ = open  // terminated by the revocation; not used again
            #expect(try await Self.sessions(of: first.user, on: fixture.target) == 0)
            #expect(try await Self.roleExists(first.user, on: fixture.target) == false)
            let again = try await client.call(.post, "/v1/leases/\(first.lease)/revoke", token: alice)
            #expect(again.status == .ok && again.json["status"] == "revoked")

            let notAdmin = try await client.call(.post, "/v1/principals/alice/revoke-all", token: alice)
            #expect(notAdmin.status == .forbidden)
            let all = try await client.call(.post, "/v1/principals/alice/revoke-all", token: admin)
            #expect(all.status == .ok, "\(all.json)")
            let ended = all.json["items"]?.arrayValue ?? []
            #expect(Set(ended.compactMap { $0["id"]?.stringValue }) == [second.lease, third.lease])
            #expect(ended.allSatisfy { $0["status"] == "revoked" }, "\(ended)")
            for login in [second, third] {
                #expect(try await Self.roleExists(login.user, on: fixture.target) == false)
                #expect(await runAs(user: login.user, password: login.password, on: fixture.target, "SELECT 1") != nil)
            }
        }
        let events = try await Self.events(fixture)
        #expect(events.filter { $0 == "airlock.credential.revoked" }.count == 3)
    }

    @Test("renew: up to the rule's cap from issue, re-decided with the owner as they are now")
    func renew() async throws {
        let fixture = try await AccessFlowFixture.make()
        let app = try buildApplication(config: fixture.config)
        let alice = try await fixture.token("alice", groups: ["sre"], mfa: true)
        let staleAlice = try await fixture.token("alice", groups: ["sre"], mfa: false)
        let mallory = try await fixture.token("mallory", groups: ["sre"], mfa: true)
        try await app.test(.live) { client in
            try await ServerSupport.waitUntilReady(client)
            let login = try await issue(client, token: alice, ttl: 60)
            let before = try await client.call(.get, "/v1/leases/\(login.lease)", token: alice)
            let issued = try #require(before.json["issued_at"]?.stringValue.flatMap { try? Date($0, strategy: .iso8601) })

            let renewed = try await client.call(.post, "/v1/leases/\(login.lease)/renew", token: alice,
                                                body: #"{"ttl_seconds": 600}"#)
            #expect(renewed.status == .ok, "\(renewed.json)")
            let expiry = try #require(renewed.json["expires_at"]?.stringValue.flatMap { try? Date($0, strategy: .iso8601) })
            #expect(abs(expiry.timeIntervalSinceNow - 600) < 30)

            // The rule caps at 1 h from issue: asking for 2 h gets exactly issue + 1 h.
            let capped = try await client.call(.post, "/v1/leases/\(login.lease)/renew", token: alice,
                                               body: #"{"ttl_seconds": 7200}"#)
            let cappedExpiry = try #require(capped.json["expires_at"]?.stringValue.flatMap { try? Date($0, strategy: .iso8601) })
            #expect(abs(cappedExpiry.timeIntervalSince(issued) - 3600) < 1, "\(capped.json)")
            let validUntil = try await TestDatabase.withExisting(fixture.target) { database in
                let rows = try await database.client.query(
                    "SELECT rolvaliduntil FROM pg_roles WHERE rolname = \(login.user)", logger: TestDatabase.logger)
                for try await date in rows.decode(Date.self) { return date }
                return Date.distantPast
            }
            #expect(abs(validUntil.timeIntervalSince(cappedExpiry)) < 1)

            let noMFA = try await client.call(.post, "/v1/leases/\(login.lease)/renew", token: staleAlice,
                                              body: #"{"ttl_seconds": 600}"#)
            #expect(noMFA.status == .forbidden && noMFA.json["error"]?["code"] == "policy_denied", "\(noMFA.json)")
            let other = try await client.call(.post, "/v1/leases/\(login.lease)/renew", token: mallory,
                                              body: #"{"ttl_seconds": 600}"#)
            #expect(other.status == .notFound)
            let zero = try await client.call(.post, "/v1/leases/\(login.lease)/renew", token: alice,
                                             body: #"{"ttl_seconds": 0}"#)
            #expect(zero.json["error"]?["code"] == "invalid_ttl")
            _ = try await client.call(.post, "/v1/leases/\(login.lease)/revoke", token: alice)
            let ended = try await client.call(.post, "/v1/leases/\(login.lease)/renew", token: alice,
                                              body: #"{"ttl_seconds": 600}"#)
            #expect(ended.status == .conflict)
        }
        let events = try await Self.events(fixture)
        #expect(events.filter { $0 == "airlock.lease.renewed" }.count == 2)
    }

    @Test("renewal never passes the global maximum TTL, whatever the rule's cap")
    func renewWithinGlobalMaximum() async throws {
        let fixture = try await AccessFlowFixture.make()
        var config = fixture.config
        config.settings.maximumTTLSeconds = 1200  // the rule allows 1 h
        let app = try buildApplication(config: config)
        let alice = try await fixture.token("alice", groups: ["sre"], mfa: true)
        try await app.test(.live) { client in
            try await ServerSupport.waitUntilReady(client)
            let login = try await issue(client, token: alice, ttl: 60)
            let issuedAt = try #require(try await client.call(.get, "/v1/leases/\(login.lease)", token: alice)
                .json["issued_at"]?.stringValue.flatMap { try? Date($0, strategy: .iso8601) })
            let renewed = try await client.call(.post, "/v1/leases/\(login.lease)/renew", token: alice,
                                                body: #"{"ttl_seconds": 1200}"#)
            let expiry = try #require(renewed.json["expires_at"]?.stringValue.flatMap { try? Date($0, strategy: .iso8601) })
            #expect(expiry.timeIntervalSince(issuedAt) <= 1200.001, "\(renewed.json)")
            #expect(expiry.timeIntervalSince(issuedAt) > 1100)
        }
    }
}
