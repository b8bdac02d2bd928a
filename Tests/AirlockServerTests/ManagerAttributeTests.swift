import AirlockBroker
import AirlockCore
import AirlockPolicy
import AirlockServer
import AirlockStore
import AirlockTestSupport
import Foundation
import HTTPTypes
import HummingbirdTesting
import Testing

/// Issue 12, item 2: `principal.manager` reaches the policy from the token, is stored with the request's input so
/// `policy replay` re-decides with it, and an admin's what-if may describe it.
@Suite(.serialized)
struct ManagerAttributeTests {
    /// Permits readonly to whoever carol manages; a principal without a manager is not permitted.
    static func policy(manager: String) -> String {
        """
        permit "managed-readonly"
          when principal has manager and principal.manager == "\(manager)" and request.role == "readonly"
          ttl <= 1h;
        """
    }

    static let readonly = #"{"resource": "orders-db", "role": "readonly", "ttl_seconds": 1800, "reason": "INC-12"}"#

    static func load(_ text: String) throws -> PolicySet {
        switch PolicySet.load(directory: URL(fileURLWithPath: ServerSupport.writePolicies(text))) {
        case .success(let policies): return policies
        case .failure(let error): throw PolicyLoadFailure(description: error.description)
        }
    }

    struct PolicyLoadFailure: Error, CustomStringConvertible { let description: String }

    @Test(.timeLimit(.minutes(3)))
    func theManagerIsDecidedOnStoredAndReplayed() async throws {
        let fixture = try await AccessFlowFixture.make(policies: Self.policy(manager: "carol"))
        let app = try buildApplication(config: fixture.config)
        let url = try #require(fixture.config.settings.databaseURL)
        let alice = try await fixture.issuer.issueToken(user: "alice", manager: "carol")
        let bob = try await fixture.issuer.issueToken(user: "bob")
        let dan = try await fixture.issuer.issueToken(user: "dan", manager: "dave")

        try await app.test(.live) { client in
            try await ServerSupport.waitUntilReady(client)
            let permitted = try await client.call(.post, "/v1/access-requests", token: alice, body: Self.readonly)
            #expect(permitted.status == .created, "\(permitted.json)")
            #expect(permitted.json["decision"]?["decision"]?.stringValue == "permit", "\(permitted.json)")
            #expect(permitted.json["decision"]?["rules"] == ["managed-readonly"])
            for token in [bob, dan] {
                let denied = try await client.call(.post, "/v1/access-requests", token: token, body: Self.readonly)
                #expect(denied.json["decision"]?["decision"]?.stringValue == "deny", "\(denied.json)")
            }
        }

        try await TestDatabase.withExisting(url) { database in
            let history = AccessRequestHistory(database: database, logger: TestDatabase.logger)
            var stored: [String: DecidedRequest] = [:]
            try await history.forEachPage(since: .distantPast) { page in
                for request in page { stored[request.principalID] = request }
            }
            #expect(stored.count == 3)
            // The stored input holds the manager when the token named one, and no `manager` key otherwise.
            let inputs = try stored.mapValues { try JSONValue.parse(Data($0.evaluationInput.utf8)) }
            #expect(inputs["alice"]?["principal"]?["manager"] == "carol", "\(String(describing: inputs["alice"]))")
            #expect(inputs["dan"]?["principal"]?["manager"] == "dave")
            #expect(inputs["bob"]?["principal"]?.objectValue?.keys.contains("manager") == false,
                    "\(String(describing: inputs["bob"]))")

            // Replayed under the same policy, nothing changes: alice's stored input still names carol.
            let same = try await PolicyReplay(policies: try Self.load(Self.policy(manager: "carol")))
                .run(history, since: .distantPast)
            #expect(same.examined == 3)
            #expect(!same.hasChanges, "\(same.changes.map(\.change)) \(same.failures.map(\.message))")

            // Under a policy for dave's reports, alice loses her permit and dan gains one; bob stays denied.
            let dave = try await PolicyReplay(policies: try Self.load(Self.policy(manager: "dave")))
                .run(history, since: .distantPast)
            #expect(dave.failures.isEmpty)
            let changed = Dictionary(uniqueKeysWithValues: dave.changes.map { ($0.request.principalID, $0.change) })
            #expect(Set(changed.keys) == ["alice", "dan"], "\(changed)")
            #expect(changed["alice"]?.before.outcome == .permit && changed["alice"]?.after.outcome == .deny)
            #expect(changed["dan"]?.before.outcome == .deny && changed["dan"]?.after.outcome == .permit)
        }
    }

    @Test(.timeLimit(.minutes(3)))
    func anAdminDescribesAManagerInAWhatIf() async throws {
        let fixture = try await AccessFlowFixture.make(policies: Self.policy(manager: "carol"))
        let app = try buildApplication(config: fixture.config)
        let url = try #require(fixture.config.settings.databaseURL)
        let admin = try await TestDatabase.withExisting(url) { database in
            try await ApiTokenStore(database: database, auditLog: AuditLog(source: "/airlock/test"))
                .create(name: "root", scopes: ["admin"], logger: TestDatabase.logger).token
        }
        let ask = #""resource": "orders-db", "role": "readonly", "ttl_seconds": 1800, "reason": "r""#

        try await app.test(.live) { client in
            try await ServerSupport.waitUntilReady(client)
            let managed = try await client.call(.post, "/v1/decisions", token: admin, body: """
                {\(ask), "principal": {"id": "zoe", "kind": "user", "manager": "carol"}}
                """)
            #expect(managed.status == .ok, "\(managed.json)")
            #expect(managed.json["decision"]?["decision"]?.stringValue == "permit", "\(managed.json)")
            for principal in [#"{"id": "zoe", "kind": "user"}"#, #"{"id": "zoe", "kind": "user", "manager": null}"#,
                              #"{"id": "zoe", "kind": "user", "manager": "dave"}"#] {
                let other = try await client.call(
                    .post, "/v1/decisions", token: admin, body: #"{\#(ask), "principal": \#(principal)}"#)
                #expect(other.json["decision"]?["decision"]?.stringValue == "deny", "\(principal) → \(other.json)")
            }
            for principal in [#"{"id": "zoe", "kind": "user", "manager": ""}"#,
                              #"{"id": "zoe", "kind": "user", "manager": 7}"#,
                              #"{"id": "zoe", "kind": "user", "manager": ["carol"]}"#] {
                let refused = try await client.call(
                    .post, "/v1/decisions", token: admin, body: #"{\#(ask), "principal": \#(principal)}"#)
                #expect(refused.status == .unprocessableContent, "\(principal) → \(refused.json)")
                #expect(refused.json["error"]?["code"]?.stringValue == "validation_failed")
                #expect(refused.json["error"]?["message"]?.stringValue?.contains("principal.manager") == true,
                        "\(refused.json)")
            }
        }
    }
}
