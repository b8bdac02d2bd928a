import AirlockCore
import AirlockServer
import AirlockStore
import AirlockTestSupport
import Foundation
import HTTPTypes
import HummingbirdTesting
import Testing

/// Issue 10, items 1, 3, 11, 12 and 13, end to end through the HTTP API: who a caller is, and what that lets it do.
@Suite(.serialized)
struct AuthorizationBoundaryTests {
    static let policies = """
        permit "sre-readonly"
          when "sre" in principal.groups and resource.env == "prod" and request.role == "readonly"
           and principal has mfa_age and principal.mfa_age <= 15m
          ttl <= 1h;

        require_approval "prod-write"
          when principal.groups contains_any ["backend", "dba"] and request.role == "readwrite"
          approvers group("db-owners") count 2, group("security") count 1
          ttl <= 30m;

        require_approval "release"
          when "releasers" in principal.groups and request.role == "readonly"
          approvers group("release-managers") count 1, group("release-checks") count 1 including services
          ttl <= 30m;

        permit "ci-tokens"
          when principal.kind == "service" and "ci" in principal.groups and resource.kind == "token"
           and request.role == "read"
          ttl <= 15m;
        """
    static let tokenResources = [
        """
        {"id": "payments-api", "kind": "token", "env": "prod", "owner": "payments", "sensitivity": 6,
         "audience": "payments-api", "roles": {"read": {"scopes": ["payments:read"]}}}
        """,
        """
        {"id": "billing-api", "kind": "token", "env": "prod", "owner": "billing", "sensitivity": 6,
         "audience": "billing-api", "roles": {"read": {"scopes": ["billing:read"]}}}
        """,
    ]
    static let readonly = #"{"resource": "orders-db", "role": "readonly", "ttl_seconds": 1800, "reason": "INC-1"}"#
    static let readwrite = #"{"resource": "orders-db", "role": "readwrite", "ttl_seconds": 600, "reason": "fix"}"#

    static func fixture() async throws -> AccessFlowFixture {
        try await AccessFlowFixture.make(policies: policies, extraResources: tokenResources)
    }

    /// An `alk_` token made straight in the store, as `airlock token create` did before its checks (an old token).
    static func storedToken(
        _ fixture: AccessFlowFixture, _ name: String, scopes: [String], groups: [String] = [], audience: String? = nil
    ) async throws -> String {
        try await TestDatabase.withExisting(try #require(fixture.config.settings.databaseURL)) { database in
            try await ApiTokenStore(database: database, auditLog: AuditLog(source: "/airlock/test"))
                .create(name: name, scopes: scopes, groups: groups, audience: audience, logger: TestDatabase.logger).token
        }
    }

    static func code(_ answer: (status: HTTPResponse.Status, json: JSONValue)) -> String? {
        answer.json["error"]?["code"]?.stringValue
    }

    /// Asks `body` as `token` and picks the credential up: the request id and the lease id.
    static func lease(
        _ client: some TestClientProtocol, token: String, body: String = readonly
    ) async throws -> (request: String, lease: String) {
        let asked = try await client.call(.post, "/v1/access-requests", token: token, body: body)
        #expect(asked.json["status"]?.stringValue == "approved", "\(asked.json)")
        let request = try #require(asked.json["id"]?.stringValue)
        let creds = try await client.call(.get, "/v1/access-requests/\(request)/credentials", token: token)
        return (request, try #require(creds.json["lease_id"]?.stringValue, "\(creds.json)"))
    }

    @Test("item 1: only an alk_ token with the service scope is a principal; tokens in approver groups approve nothing",
          .timeLimit(.minutes(3)))
    func scopesBoundWhatATokenIs() async throws {
        let fixture = try await Self.fixture()
        let app = try buildApplication(config: fixture.config)
        let admin = try await Self.storedToken(fixture, "root", scopes: ["admin"])
        let auditor = try await Self.storedToken(fixture, "siem", scopes: ["auditor"])
        let introspector = try await Self.storedToken(
            fixture, "rs", scopes: ["introspect"], groups: ["ci"], audience: "payments-api")
        let deployer = try await Self.storedToken(fixture, "deployer", scopes: ["service"], groups: ["ci"])
        let approverBot = try await Self.storedToken(
            fixture, "approver-bot", scopes: ["service"], groups: ["db-owners", "security"])
        let bob = try await fixture.token("bob", groups: ["backend"])
        try await app.test(.live) { client in
            try await ServerSupport.waitUntilReady(client)
            let credential = #"{"resource": "payments-api", "role": "read", "ttl_seconds": 300}"#
            // A service token asks and gets its credential (the control).
            let served = try await client.call(.post, "/v1/credentials", token: deployer, body: credential)
            #expect(served.status == .created, "\(served.json)")

            // Tokens without the service scope are no principal: whatever their groups, 403 before any decision.
            for (who, token) in [("introspect", introspector), ("admin", admin), ("auditor", auditor)] {
                let attempts: [(HTTPRequest.Method, String, String?)] = [
                    (.post, "/v1/credentials", credential),
                    (.post, "/v1/access-requests", Self.readonly),
                    (.post, "/v1/decisions", Self.readonly),
                    (.get, "/v1/access-requests?mine=true", nil),
                ]
                for (method, uri, body) in attempts {
                    let answer = try await client.call(method, uri, token: token, body: body)
                    #expect(answer.status == .forbidden && Self.code(answer) == "forbidden",
                            "\(who): \(method) \(uri) → \(answer.status) \(answer.json)")
                    #expect(answer.json["token"] == nil)
                }
            }
            let leases = try await client.call(.get, "/v1/leases", token: introspector)
            #expect(leases.status == .forbidden, "\(leases.json)")
            // Admins and auditors keep their own rights.
            #expect(try await client.call(.get, "/v1/leases", token: auditor).status == .ok)
            #expect(try await client.call(.get, "/v1/leases", token: admin).status == .ok)

            // An admin cannot mint a token into a people-only approver group.
            let refused = try await client.call(.post, "/v1/tokens", token: admin, body: """
                {"name": "approver", "scopes": ["service"], "groups": ["ci", "db-owners"]}
                """)
            #expect(refused.status == .unprocessableContent && Self.code(refused) == "validation_failed", "\(refused.json)")
            #expect(refused.json["error"]?["message"]?.stringValue?.contains("`db-owners`") == true, "\(refused.json)")
            #expect(refused.json["token"] == nil)
            for groups in [#"["release-checks"]"#, #"["ci"]"#] {
                let made = try await client.call(.post, "/v1/tokens", token: admin, body: """
                    {"name": "bot-\(UUID().uuidString.prefix(8))", "scopes": ["service"], "groups": \(groups)}
                    """)
                #expect(made.status == .created, "\(groups): \(made.json)")
            }

            // A service token already in db-owners and security (made before the check) neither approves nor denies
            // a person's production write, and is shown nothing to review.
            let write = try await client.call(.post, "/v1/access-requests", token: bob, body: Self.readwrite)
            let id = try #require(write.json["id"]?.stringValue)
            #expect(write.json["status"]?.stringValue == "pending_approval")
            let pending = try await client.call(.get, "/v1/access-requests?status=pending_approval", token: approverBot)
            #expect(pending.status == .ok && pending.json["items"]?.arrayValue?.isEmpty == true, "\(pending.json)")
            for verdict in ["approve", "deny"] {
                // A service that may not review the request may not see it either: 404, as reading it answers.
                let answer = try await client.call(.post, "/v1/access-requests/\(id)/\(verdict)", token: approverBot, body: "{}")
                #expect(answer.status == .notFound && Self.code(answer) == "not_found", "\(verdict): \(answer.json)")
            }
            let after = try await client.call(.get, "/v1/access-requests/\(id)", token: bob)
            #expect(after.json["status"]?.stringValue == "pending_approval")
            #expect(after.json["approvals"]?.arrayValue?.isEmpty == true, "\(after.json)")
        }
    }

    @Test("item 12: a workload JWT in approver groups neither approves nor counts; `including services` lets it",
          .timeLimit(.minutes(3)))
    func servicePrincipalsApproveOnlyWhereARuleSaysSo() async throws {
        let fixture = try await Self.fixture()
        let app = try buildApplication(config: fixture.config)
        let bob = try await fixture.token("bob", groups: ["backend"])
        let carol = try await fixture.token("carol", groups: ["db-owners"])
        let dave = try await fixture.token("dave", groups: ["db-owners", "security"])
        let ci = try await fixture.issuer.issueToken(user: "ci-approver", groups: ["db-owners", "security"], service: true)
        let rita = try await fixture.token("rita", groups: ["releasers"])
        let mike = try await fixture.token("mike", groups: ["release-managers"])
        let checks = try await fixture.issuer.issueToken(
            user: "release-checker", groups: ["release-checks", "release-managers"], service: true)
        try await app.test(.live) { client in
            try await ServerSupport.waitUntilReady(client)
            let write = try await client.call(.post, "/v1/access-requests", token: bob, body: Self.readwrite)
            let id = try #require(write.json["id"]?.stringValue)
            let nothing = try await client.call(.get, "/v1/access-requests?status=pending_approval", token: ci)
            #expect(nothing.json["items"]?.arrayValue?.isEmpty == true, "\(nothing.json)")
            for verdict in ["approve", "deny"] {
                // A service that may not review the request may not see it either: 404, as reading it answers.
                let answer = try await client.call(.post, "/v1/access-requests/\(id)/\(verdict)", token: ci, body: "{}")
                #expect(answer.status == .notFound && Self.code(answer) == "not_found", "\(verdict): \(answer.json)")
            }
            // carol and dave: two people for db-owners and security need one more db-owner; the service is not one.
            for person in [carol, dave] {
                let answer = try await client.call(.post, "/v1/access-requests/\(id)/approve", token: person, body: "{}")
                #expect(answer.status == .ok, "\(answer.json)")
            }
            let still = try await client.call(.get, "/v1/access-requests/\(id)", token: bob)
            #expect(still.json["status"]?.stringValue == "pending_approval", "\(still.json)")
            #expect(still.json["approvals"]?.arrayValue?.compactMap { $0["approver"]?.stringValue }.sorted() == ["carol", "dave"])

            // The release rule lets services count toward release-checks, and only there.
            let release = try await client.call(.post, "/v1/access-requests", token: rita, body: Self.readonly)
            let releaseID = try #require(release.json["id"]?.stringValue)
            let requires = release.json["decision"]?["approvals"]?[0]?["requires"]?.arrayValue ?? []
            #expect(requires.map { $0["services"]?.boolValue } == [nil, true], "\(release.json)")
            let listed = try await client.call(.get, "/v1/access-requests?status=pending_approval", token: checks)
            #expect(listed.json["items"]?.arrayValue?.compactMap { $0["id"]?.stringValue } == [releaseID], "\(listed.json)")
            let checked = try await client.call(.post, "/v1/access-requests/\(releaseID)/approve", token: checks, body: "{}")
            #expect(checked.status == .ok && checked.json["status"]?.stringValue == "pending_approval", "\(checked.json)")
            let assigned = checked.json["approvers"]?[0]?["requires"]?.arrayValue ?? []
            #expect(assigned.map { $0["approved_by"]?.arrayValue?.count } == [0, 1], "\(checked.json)")
            let approved = try await client.call(.post, "/v1/access-requests/\(releaseID)/approve", token: mike, body: "{}")
            #expect(approved.json["status"]?.stringValue == "approved", "\(approved.json)")
        }
    }

    @Test("item 3: a workload token with sub=alice is not alice; a subject shaped like token:<name> is refused",
          .timeLimit(.minutes(3)))
    func principalIdsAreQualifiedByIssuer() async throws {
        let fixture = try await Self.fixture()
        let app = try buildApplication(config: fixture.config)
        let alice = try await fixture.token("alice", groups: ["sre"], mfa: true)
        let workloadAlice = try await fixture.issuer.issueToken(user: "alice", groups: ["sre"], mfa: true, service: true)
        let deployer = try await Self.storedToken(fixture, "deployer", scopes: ["service"], groups: ["ci"])
        let impostor = try await fixture.issuer.issueToken(user: "token:deployer", groups: ["ci"])
        try await app.test(.live) { client in
            try await ServerSupport.waitUntilReady(client)
            let (request, lease) = try await Self.lease(client, token: alice)
            #expect(try await client.call(.get, "/v1/leases/\(lease)", token: workloadAlice).status == .notFound)
            #expect(try await client.call(.get, "/v1/access-requests/\(request)", token: workloadAlice).status == .notFound)
            let renew = try await client.call(.post, "/v1/leases/\(lease)/renew", token: workloadAlice,
                                              body: #"{"ttl_seconds": 600}"#)
            #expect(renew.status == .notFound, "\(renew.json)")
            let revoke = try await client.call(.post, "/v1/leases/\(lease)/revoke", token: workloadAlice)
            #expect(revoke.status == .notFound, "\(revoke.json)")
            let list = try await client.call(.get, "/v1/leases", token: workloadAlice)
            #expect(list.json["items"]?.arrayValue?.isEmpty == true, "\(list.json)")
            #expect(try await client.call(.get, "/v1/leases/\(lease)", token: alice).json["status"] == "active")

            // The workload's own requests carry its qualified id.
            let own = try await client.call(.post, "/v1/access-requests", token: workloadAlice, body: Self.readonly)
            #expect(own.status == .created, "\(own.json)")
            let ownID = try #require(own.json["id"]?.stringValue)
            let shown = try await client.call(.get, "/v1/access-requests/\(ownID)", token: workloadAlice)
            #expect(shown.json["principal"]?.stringValue == "airlock-dev-workload#alice", "\(shown.json)")
            #expect(try await client.call(.get, "/v1/access-requests/\(ownID)", token: alice).status == .notFound)

            // A person whose subject is `token:deployer` is not the deployer token.
            let served = try await client.call(.post, "/v1/credentials", token: deployer, body: """
                {"resource": "payments-api", "role": "read", "ttl_seconds": 300}
                """)
            let deployerLease = try #require(served.json["lease_id"]?.stringValue, "\(served.json)")
            let refused = try await client.call(.get, "/v1/leases/\(deployerLease)", token: impostor)
            #expect(refused.status == .unauthorized && Self.code(refused) == "unsupported_subject", "\(refused.json)")
        }
    }

    @Test("item 11: canonically equivalent ids are two principals: neither reads, renews or revokes the other's",
          .timeLimit(.minutes(3)))
    func principalIdsCompareByteForByte() async throws {
        let fixture = try await Self.fixture()
        let app = try buildApplication(config: fixture.config)
        let composed = try await fixture.token("jos\u{E9}", groups: ["sre"], mfa: true)
        let decomposed = try await fixture.token("jose\u{301}", groups: ["sre"], mfa: true)
        let angstromSign = try await fixture.token("\u{212B}ngstr\u{F6}m", groups: ["sre"], mfa: true)
        let ringA = try await fixture.token("\u{C5}ngstr\u{F6}m", groups: ["sre"], mfa: true)
        try await app.test(.live) { client in
            try await ServerSupport.waitUntilReady(client)
            let (request, lease) = try await Self.lease(client, token: composed)
            #expect(try await client.call(.get, "/v1/leases/\(lease)", token: decomposed).status == .notFound)
            #expect(try await client.call(.get, "/v1/access-requests/\(request)", token: decomposed).status == .notFound)
            let renew = try await client.call(.post, "/v1/leases/\(lease)/renew", token: decomposed,
                                              body: #"{"ttl_seconds": 600}"#)
            #expect(renew.status == .notFound, "\(renew.json)")
            let revoke = try await client.call(.post, "/v1/leases/\(lease)/revoke", token: decomposed)
            #expect(revoke.status == .notFound, "\(revoke.json)")
            let theirs = try await client.call(.get, "/v1/leases", token: decomposed)
            #expect(theirs.json["items"]?.arrayValue?.isEmpty == true, "\(theirs.json)")
            let mine = try await client.call(.get, "/v1/leases/\(lease)", token: composed)
            #expect(mine.status == .ok && mine.json["status"] == "active", "\(mine.json)")
            #expect(mine.json["principal"]?.stringValue.map { Array($0.utf8) } == Array("jos\u{E9}".utf8))

            let asked = try await client.call(.post, "/v1/access-requests", token: angstromSign, body: Self.readonly)
            let other = try #require(asked.json["id"]?.stringValue)
            #expect(try await client.call(.get, "/v1/access-requests/\(other)", token: ringA).status == .notFound)
            #expect(try await client.call(.get, "/v1/access-requests/\(other)", token: angstromSign).status == .ok)
        }
    }

    @Test("item 13: an introspect token learns only about credential tokens for its own audience",
          .timeLimit(.minutes(3)))
    func introspectionIsBoundToAnAudience() async throws {
        let fixture = try await Self.fixture()
        let app = try buildApplication(config: fixture.config)
        let admin = try await Self.storedToken(fixture, "root", scopes: ["admin"])
        let legacy = try await Self.storedToken(fixture, "old-rs", scopes: ["introspect"])
        let ci = try await fixture.issuer.issueToken(user: "ci", groups: ["ci"], service: true)
        try await app.test(.live) { client in
            try await ServerSupport.waitUntilReady(client)
            let missing = try await client.call(.post, "/v1/tokens", token: admin,
                                                body: #"{"name": "rs", "scopes": ["introspect"]}"#)
            #expect(missing.status == .unprocessableContent && Self.code(missing) == "validation_failed", "\(missing.json)")
            let stray = try await client.call(.post, "/v1/tokens", token: admin,
                                              body: #"{"name": "svc", "scopes": ["service"], "audience": "payments-api"}"#)
            #expect(stray.status == .unprocessableContent, "\(stray.json)")
            let made = try await client.call(.post, "/v1/tokens", token: admin, body: """
                {"name": "payments-rs", "scopes": ["introspect"], "audience": "payments-api"}
                """)
            #expect(made.status == .created && made.json["audience"] == "payments-api", "\(made.json)")
            let introspector = try #require(made.json["token"]?.stringValue)

            var minted: [String: String] = [:]
            for resource in ["payments-api", "billing-api"] {
                let issued = try await client.call(.post, "/v1/credentials", token: ci, body: """
                    {"resource": "\(resource)", "role": "read", "ttl_seconds": 300}
                    """)
                minted[resource] = try #require(issued.json["token"]?.stringValue, "\(issued.json)")
            }
            let own = try await client.call(.post, "/v1/tokens/introspect", token: introspector,
                                            body: #"{"token": "\#(try #require(minted["payments-api"]))"}"#)
            #expect(own.json["active"] == true && own.json["aud"] == "payments-api", "\(own.json)")
            let foreign = try await client.call(.post, "/v1/tokens/introspect", token: introspector,
                                                body: #"{"token": "\#(try #require(minted["billing-api"]))"}"#)
            #expect(foreign.status == .ok && foreign.json == ["active": false], "\(foreign.json)")
            // An introspect token without an audience (made before audiences) learns nothing at all.
            let old = try await client.call(.post, "/v1/tokens/introspect", token: legacy,
                                            body: #"{"token": "\#(try #require(minted["payments-api"]))"}"#)
            #expect(old.status == .forbidden && Self.code(old) == "forbidden", "\(old.json)")
        }
    }
}
