import AirlockCore
import AirlockServer
import AirlockStore
import AirlockTestSupport
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing

/// Sealed delivery (issue 18, item 4): a credential sealed to the caller's X-Wing key (HPKE), through the running
/// broker; only that key opens it, for that lease, unaltered; a bad seal request mints nothing; the plaintext is in
/// no log and no audit event.
@Suite(.serialized)
struct SealedCredentialTests {
    static func pickUp(
        _ client: some TestClientProtocol, _ id: String, token: String, seal: [(name: String, value: String)]
    ) async throws -> (status: HTTPResponse.Status, json: JSONValue, text: String) {
        var headers: HTTPFields = [.authorization: "Bearer \(token)"]
        for header in seal { headers.append(HTTPField(name: HTTPField.Name(header.name)!, value: header.value)) }
        let response = try await client.execute(
            uri: "/v1/access-requests/\(id)/credentials", method: .get, headers: headers, body: nil)
        let text = String(buffer: response.body)
        return (response.status, (try? JSONValue.parse(Data(text.utf8))) ?? .string(text), text)
    }

    @Test("a pickup sealed to the caller's key: only that key opens it, for that lease, unaltered; bad seal requests are refused and mint nothing; no log or audit event holds the password",
          .timeLimit(.minutes(3)))
    func sealedPickup() async throws {
        let fixture = try await AccessFlowFixture.make()
        let logs = CapturedLogs()
        var config = fixture.config
        config.logger = logs.logger()
        let alice = try await fixture.token("alice", groups: ["sre"], mfa: true)
        let databaseURL = try #require(config.settings.databaseURL)
        let app = try buildApplication(config: config)
        try await app.test(.live) { client in
            try await ServerSupport.waitUntilReady(client)
            let asked = try await client.call(.post, "/v1/access-requests", token: alice, body: """
                {"resource": "orders-db", "role": "readonly", "ttl_seconds": 600, "reason": "INC-7"}
                """)
            let id = try #require(asked.json["id"]?.stringValue, "\(asked.json)")
            let opener = try CredentialSeal.Opener()
            let key = try #require(opener.headers.last?.value)

            // Refused before anything is minted: another suite, a key that is not one, one header alone.
            let refusals: [([(name: String, value: String)], String)] = [
                ([("Airlock-Seal-Suite", "DHKEM-X25519-SHA256-AES128GCM"), ("Airlock-Seal-Key", key)], "unsupported_seal_suite"),
                ([("Airlock-Seal-Suite", CredentialSeal.suite), ("Airlock-Seal-Key", "AAAA")], "invalid_seal_key"),
                ([("Airlock-Seal-Suite", CredentialSeal.suite), ("Airlock-Seal-Key", "not base64!")], "invalid_seal_key"),
                ([("Airlock-Seal-Key", key)], "invalid_seal_key"),
            ]
            for (headers, code) in refusals {
                let refused = try await Self.pickUp(client, id, token: alice, seal: headers)
                #expect(refused.status == .badRequest && refused.json["error"]?["code"] == .string(code), "\(refused.json)")
            }
            let seen = try await client.call(.get, "/v1/access-requests/\(id)", token: alice)
            #expect(seen.json["status"] == "approved", "a refused seal request minted the credential: \(seen.json)")

            // Sealed: what says which lease and until when is readable, the secret is not.
            let sealed = try await Self.pickUp(client, id, token: alice, seal: opener.headers)
            #expect(sealed.status == .ok, "\(sealed.json)")
            #expect(sealed.json["password"] == nil && sealed.json["dsn"] == nil && sealed.json["username"] == nil)
            #expect(sealed.json["kind"] == "postgres" && sealed.json["expires_at"] != nil)
            let leaseText = try #require(sealed.json["lease_id"]?.stringValue)
            let lease = try #require(UUID(uuidString: leaseText))
            let box = try #require(sealed.json["sealed"])
            #expect(box["suite"] == .string(CredentialSeal.suite))

            let opened = try JSONValue.parse(try opener.open(box, lease: lease))
            let password = try #require(opened["password"]?.stringValue)
            #expect(password.count >= 20 && opened["lease_id"] == .string(leaseText))
            #expect(!sealed.text.contains(password))

            // Another key, another lease, a changed byte: none opens.
            #expect(throws: CredentialSeal.Failure.self) { try CredentialSeal.Opener().open(box, lease: lease) }
            #expect(throws: CredentialSeal.Failure.self) { try opener.open(box, lease: UUID()) }
            var tampered = try #require(box["ciphertext"]?.stringValue)
            let flipped: Character = tampered.first == "A" ? "B" : "A"
            tampered.replaceSubrange(tampered.startIndex...tampered.startIndex, with: String(flipped))
            var altered = box.objectValue ?? [:]
            altered["ciphertext"] = .string(tampered)
            #expect(throws: CredentialSeal.Failure.self) { try opener.open(.object(altered), lease: lease) }

            // Once, sealed or not.
            #expect(try await Self.pickUp(client, id, token: alice, seal: opener.headers).status == .gone)

            #expect(!logs.text.contains(password), "the password is in the broker's log")
            let events = try await TestDatabase.withExisting(databaseURL) { database in
                try await AuditReader.events(in: database)
            }
            #expect(!events.isEmpty && events.allSatisfy { !$0.event.contains(password) }, "the password is in an audit event")
        }
    }

    @Test("a one-call credential sealed to a service's key opens to the same answer it would have had in clear")
    func sealedOneCall() async throws {
        let logs = CapturedLogs()
        let fixture = try await ServiceCredentialTests.fixture(logs: logs)
        let ci = try await fixture.issuer.issueToken(user: "ci-orders", groups: ["ci"], service: true)
        let app = try buildApplication(config: fixture.config)
        try await app.test(.live) { client in
            try await ServerSupport.waitUntilReady(client)
            let opener = try CredentialSeal.Opener()
            var headers: HTTPFields = [.authorization: "Bearer \(ci)", .contentType: "application/json"]
            for header in opener.headers { headers.append(HTTPField(name: HTTPField.Name(header.name)!, value: header.value)) }
            let response = try await client.execute(
                uri: "/v1/credentials", method: .post, headers: headers,
                body: ByteBuffer(string: #"{"resource": "payments-api", "role": "read", "ttl_seconds": 300}"#))
            #expect(response.status == .created)
            #expect(response.headers[.cacheControl] == "no-store")
            let answer = try JSONValue.parse(Data(String(buffer: response.body).utf8))
            #expect(answer["token"] == nil && answer["kind"] == "token" && answer["access_request_id"] != nil)
            let lease = try #require(answer["lease_id"]?.stringValue.flatMap(UUID.init(uuidString:)))
            let opened = try JSONValue.parse(try opener.open(try #require(answer["sealed"]), lease: lease))
            let token = try #require(opened["token"]?.stringValue)
            #expect(token.hasPrefix("alkc_") && opened["audience"] == "payments-api")
            #expect(opened["access_request_id"] == answer["access_request_id"])
            #expect(!String(buffer: response.body).contains(token) && !logs.text.contains(token))
        }
    }
}
