import AirlockCore
import AirlockServer
import AirlockStore
import AirlockTestSupport
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing

/// Services get credentials in one call; resource servers introspect the `alkc_` tokens Airlock mints.
@Suite(.serialized)
struct ServiceCredentialTests {
    static let policies = """
        permit "ci-token-read"
          when principal.kind == "service" and "ci" in principal.groups and resource.kind == "token"
           and request.role == "read"
          ttl <= 15m;

        require_approval "payments-write"
          when principal.kind == "user" and request.role == "write"
          approvers group("payments-owners") count 1
          ttl <= 30m;
        """
    static let resources = """
        {"resources": [{"id": "payments-api", "kind": "token", "env": "prod", "owner": "payments", "sensitivity": 6,
          "audience": "payments-api",
          "roles": {"read": {"scopes": ["payments:read"]}, "write": {"scopes": ["payments:read", "payments:write"]}}}]}
        """

    struct Fixture {
        let config: ServerConfiguration
        let issuer: DevIssuer
        let introspector: String
        let service: String
        let broker: DatabaseURL
    }

    static func fixture(logs: CapturedLogs) async throws -> Fixture {
        let directory = ServerSupport.writePolicies(policies)
        try Data(resources.utf8).write(to: URL(fileURLWithPath: directory).appendingPathComponent("resources.json"))
        let broker = try await TestDatabase.fresh()
        var config = try ServerSupport.configuration(url: broker)
        config.settings.policiesDirectory = directory
        config.logger = logs.logger()
        let issuer = try DevIssuer()
        config.devIssuer = issuer
        let introspector = try await TestDatabase.withExisting(broker) { database in
            try await ApiTokenStore(database: database, auditLog: AuditLog(source: "/airlock/test"))
                .create(name: "orders-service", scopes: ["introspect"], audience: "payments-api", logger: TestDatabase.logger)
                .token
        }
        let service = try await TestDatabase.withExisting(broker) { database in
            try await ApiTokenStore(database: database, auditLog: AuditLog(source: "/airlock/test"))
                .create(name: "deployer", scopes: ["service"], groups: ["deploy"], logger: TestDatabase.logger).token
        }
        return Fixture(config: config, issuer: issuer, introspector: introspector, service: service, broker: broker)
    }

    @Test("a CI service gets a payments-api token in one call; introspection sees it active, then inactive after its TTL",
          .timeLimit(.minutes(2)))
    func ciTokenOneCallAndIntrospection() async throws {
        let logs = CapturedLogs()
        let fixture = try await Self.fixture(logs: logs)
        let ci = try await fixture.issuer.issueToken(user: "ci-orders", groups: ["ci"], service: true)
        let app = try buildApplication(config: fixture.config)
        let secrets = CapturedLogs()  // used as thread-safe lists of strings
        let bodies = CapturedLogs()
        for secret in [ci, fixture.introspector, fixture.service] { secrets.append(secret) }
        try await app.test(.live) { client in
            try await ServerSupport.waitUntilReady(client)
            let issued = try await client.call(.post, "/v1/credentials", token: ci, body: """
                {"resource": "payments-api", "role": "read", "ttl_seconds": 3}
                """)
            #expect(issued.status == .created, "\(issued.json)")
            #expect(issued.json["kind"]?.stringValue == "token")
            #expect(issued.json["scopes"] == ["payments:read"] && issued.json["audience"] == "payments-api")
            let token = try #require(issued.json["token"]?.stringValue)
            let lease = try #require(issued.json["lease_id"]?.stringValue)
            secrets.append(token)
            #expect(token.hasPrefix("alkc_") && ApiTokenFormat.parse(token)?.prefix == .credential)

            let active = try await client.call(.post, "/v1/tokens/introspect", token: fixture.introspector,
                                               body: #"{"token": "\#(token)"}"#)
            #expect(active.status == .ok)
            #expect(active.json["active"] == true && active.json["scope"] == "payments:read")
            #expect(active.json["aud"] == "payments-api")
            #expect(active.json["sub"]?.stringValue == DevIssuer.principalID(user: "ci-orders", service: true))
            #expect(active.json["lease_id"]?.stringValue == lease)
            #expect(active.json["exp"]?.intValue != nil)
            bodies.append("\(active.json)")

            // The RFC 7662 form body works as well.
            let form = try await client.execute(
                uri: "/v1/tokens/introspect", method: .post,
                headers: [.authorization: "Bearer \(fixture.introspector)",
                          .contentType: "application/x-www-form-urlencoded"],
                body: ByteBuffer(string: "token=\(token)&token_type_hint=access_token"))
            #expect(String(buffer: form.body).contains(#""active":true"#))
            #expect(form.headers[.cacheControl] == "no-store")

            // Inactive once the TTL (3 s, real clock) has passed; nothing but `active: false` is said.
            try await Task.sleep(for: .seconds(3.5))
            let expired = try await client.call(.post, "/v1/tokens/introspect", token: fixture.introspector,
                                                body: #"{"token": "\#(token)"}"#)
            #expect(expired.status == .ok && expired.json == ["active": false], "\(expired.json)")

            // The lease ends at its expiry (the revocation sweep runs every second).
            var status = ""
            for _ in 0..<40 where status != "expired" {
                status = try await client.call(.get, "/v1/leases/\(lease)", token: ci).json["status"]?.stringValue ?? ""
                if status != "expired" { try await Task.sleep(for: .milliseconds(250)) }
            }
            #expect(status == "expired")
            bodies.append("\(issued.json)".replacingOccurrences(of: token, with: "<token>"))
        }
        let events = try await AuditReader.events(at: fixture.broker).map(\.event)
        #expect(events.contains { $0.contains("airlock.credential.issued") && $0.contains("token_id") })
        #expect(secrets.all.count == 4)
        for secret in secrets.all {
            for text in logs.all + events + bodies.all where text.contains(secret) {
                Issue.record("a secret leaked into: \(text.prefix(200))")
            }
        }
    }

    @Test("revoking a token's lease makes it inactive on the next introspection", .timeLimit(.minutes(2)))
    func revokedTokenIsInactive() async throws {
        let fixture = try await Self.fixture(logs: CapturedLogs())
        let ci = try await fixture.issuer.issueToken(user: "ci-orders", groups: ["ci"], service: true)
        let app = try buildApplication(config: fixture.config)
        try await app.test(.live) { client in
            try await ServerSupport.waitUntilReady(client)
            let issued = try await client.call(.post, "/v1/credentials", token: ci, body: """
                {"resource": "payments-api", "role": "read", "ttl_seconds": 600}
                """)
            let token = try #require(issued.json["token"]?.stringValue)
            let lease = try #require(issued.json["lease_id"]?.stringValue)
            let body = #"{"token": "\#(token)"}"#
            // Twice, so the answer is cached before the revocation.
            for _ in 0..<2 {
                let active = try await client.call(.post, "/v1/tokens/introspect", token: fixture.introspector, body: body)
                #expect(active.json["active"] == true)
            }
            let revoked = try await client.call(.post, "/v1/leases/\(lease)/revoke", token: ci)
            #expect(revoked.status == .ok && revoked.json["status"] == "revoked", "\(revoked.json)")
            let inactive = try await client.call(.post, "/v1/tokens/introspect", token: fixture.introspector, body: body)
            #expect(inactive.json == ["active": false], "\(inactive.json)")
        }
    }

    @Test("what the policy does not permit at once is 403 policy_denied with the decision", .timeLimit(.minutes(2)))
    func notPermitted() async throws {
        let fixture = try await Self.fixture(logs: CapturedLogs())
        let app = try buildApplication(config: fixture.config)
        let outsider = try await fixture.issuer.issueToken(user: "batch-job", groups: ["batch"], service: true)
        let person = try await fixture.issuer.issueToken(user: "frank", groups: ["payments"])
        try await app.test(.live) { client in
            try await ServerSupport.waitUntilReady(client)
            let denied = try await client.call(.post, "/v1/credentials", token: outsider, body: """
                {"resource": "payments-api", "role": "read", "ttl_seconds": 300, "reason": "nightly"}
                """)
            #expect(denied.status == .forbidden && denied.json["error"]?["code"] == "policy_denied", "\(denied.json)")
            #expect(denied.json["decision"]?["decision"] == "deny" && denied.json["status"] == "denied")
            #expect(denied.json["explanation"] != nil && denied.json["token"] == nil)

            // A person asking for what needs approval gets the pending decision, and the request stays pending.
            let pending = try await client.call(.post, "/v1/credentials", token: person, body: """
                {"resource": "payments-api", "role": "write", "ttl_seconds": 300, "reason": "refund run"}
                """)
            #expect(pending.status == .forbidden && pending.json["error"]?["code"] == "policy_denied")
            #expect(pending.json["decision"]?["decision"] == "pending_approval", "\(pending.json)")
            let id = try #require(pending.json["access_request_id"]?.stringValue)
            let request = try await client.call(.get, "/v1/access-requests/\(id)", token: person)
            #expect(request.json["status"] == "pending_approval")

            // A service token (`alk_`, scope service) acts as a service principal with its groups: not `ci` here.
            let deployer = try await client.call(.post, "/v1/credentials", token: fixture.service, body: """
                {"resource": "payments-api", "role": "read", "ttl_seconds": 300}
                """)
            #expect(deployer.json["error"]?["code"] == "policy_denied")

            // Bad input: unknown resource, unknown field, invalid ttl.
            let unknown = try await client.call(.post, "/v1/credentials", token: outsider, body: """
                {"resource": "nope", "role": "read", "ttl_seconds": 300}
                """)
            #expect(unknown.json["error"]?["code"] == "unknown_resource")
            let field = try await client.call(.post, "/v1/credentials", token: outsider, body: """
                {"resource": "payments-api", "role": "read", "ttl_seconds": 300, "break_glass": true}
                """)
            #expect(field.json["error"]?["code"] == "unknown_field")
            let ttl = try await client.call(.post, "/v1/credentials", token: outsider, body: """
                {"resource": "payments-api", "role": "read", "ttl_seconds": 0}
                """)
            #expect(ttl.json["error"]?["code"] == "invalid_ttl")
        }
    }

    @Test("introspection needs the introspect scope; malformed, foreign and unknown tokens are inactive",
          .timeLimit(.minutes(2)))
    func introspectionInputs() async throws {
        let fixture = try await Self.fixture(logs: CapturedLogs())
        let app = try buildApplication(config: fixture.config)
        let person = try await fixture.issuer.issueToken(user: "frank", groups: ["payments"])
        try await app.test(.live) { client in
            try await ServerSupport.waitUntilReady(client)
            let someToken = ApiTokenFormat.generate(prefix: .credential)
            for caller in [person, fixture.service] {
                let refused = try await client.call(.post, "/v1/tokens/introspect", token: caller,
                                                    body: #"{"token": "\#(someToken)"}"#)
                #expect(refused.status == .forbidden && refused.json["error"]?["code"] == "forbidden")
            }
            let unauthenticated = try await client.call(.post, "/v1/tokens/introspect", token: nil,
                                                        body: #"{"token": "\#(someToken)"}"#)
            #expect(unauthenticated.status == .unauthorized)

            var corrupted = Array(someToken)
            corrupted[10] = corrupted[10] == "a" ? "b" : "a"
            let inactive = [
                someToken, String(corrupted), fixture.introspector, fixture.service, person, "alkc_short", "",
                "not a token at all", "eyJhbGciOiJub25lIn0.e30.",
            ]
            for token in inactive {
                let body = JSONValue.object(["token": .string(token)]).canonicalString()
                let answer = try await client.call(.post, "/v1/tokens/introspect", token: fixture.introspector, body: body)
                #expect(answer.status == .ok && answer.json == ["active": false], "\(token.prefix(12)): \(answer.json)")
            }
            let missing = try await client.call(.post, "/v1/tokens/introspect", token: fixture.introspector, body: "{}")
            #expect(missing.status == .unprocessableContent && missing.json["error"]?["code"] == "validation_failed")
            let malformed = try await client.call(.post, "/v1/tokens/introspect", token: fixture.introspector, body: "{")
            #expect(malformed.json["error"]?["code"] == "malformed_json")
        }
    }
}
