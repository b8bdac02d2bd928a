import AirlockCore
import AirlockServer
import AirlockStore
import AirlockTestSupport
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing

/// Steps of the request and lease flows shared by the tests of issue 10's flow items (renewal, kill switch,
/// oracles, re-decision at pickup, lease pages), against ``AccessFlowFixture``'s policy: `sre-readonly` (permit,
/// MFA within 15 min, 1 h) and `prod-write` (two db-owners and one security, 30 min).
enum FlowSteps {
    static let readonly = "readonly"
    static let readwrite = "readwrite"

    /// Asks for `role` on `orders-db`; returns the request's id and its answer.
    static func ask(
        _ client: some TestClientProtocol, token: String, role: String, ttl: Int
    ) async throws -> (id: String, json: JSONValue) {
        let asked = try await client.call(.post, "/v1/access-requests", token: token, body: """
            {"resource": "orders-db", "role": "\(role)", "ttl_seconds": \(ttl), "reason": "INC-10"}
            """)
        #expect(asked.status == .created, "\(asked.json)")
        return (try #require(asked.json["id"]?.stringValue, "\(asked.json)"), asked.json)
    }

    /// A `readwrite` request by `requester`, approved by each of `approvers` in turn (the last one approves it).
    static func approvedWrite(
        _ client: some TestClientProtocol, requester: String, approvers: [String], ttl: Int
    ) async throws -> String {
        let (id, json) = try await ask(client, token: requester, role: readwrite, ttl: ttl)
        #expect(json["status"]?.stringValue == "pending_approval", "\(json)")
        for approver in approvers {
            let approved = try await client.call(.post, "/v1/access-requests/\(id)/approve", token: approver, body: "{}")
            #expect(approved.status == .ok, "\(approved.json)")
        }
        let request = try await client.call(.get, "/v1/access-requests/\(id)", token: requester)
        #expect(request.json["status"]?.stringValue == "approved", "\(request.json)")
        return id
    }

    /// Picks up request `id`; returns the answer.
    static func pickUp(
        _ client: some TestClientProtocol, _ id: String, token: String
    ) async throws -> (status: HTTPResponse.Status, json: JSONValue) {
        try await client.call(.get, "/v1/access-requests/\(id)/credentials", token: token)
    }

    /// An `alk_` token with the `admin` scope, made in the broker's database.
    static func adminToken(_ fixture: AccessFlowFixture) async throws -> String {
        try await TestDatabase.withExisting(try #require(fixture.config.settings.databaseURL)) { database in
            try await ApiTokenStore(database: database, auditLog: AuditLog(source: "/airlock/test"))
                .create(name: "ops", scopes: ["admin"], logger: TestDatabase.logger).token
        }
    }

    /// The audit events of the fixture's broker database, as parsed CloudEvents.
    static func events(_ fixture: AccessFlowFixture) async throws -> [JSONValue] {
        try await AuditReader.events(at: try #require(fixture.config.settings.databaseURL))
            .compactMap { try? JSONValue.parse(Data($0.event.utf8)) }
    }

    static func date(_ value: JSONValue?) -> Date? {
        value?.stringValue.flatMap { try? Date($0, strategy: .iso8601) }
    }

    /// The fixture's configuration with `policies` as its policy set (the resources file copied beside it).
    static func config(_ fixture: AccessFlowFixture, policies: String) throws -> ServerConfiguration {
        let directory = ServerSupport.writePolicies(policies)
        try FileManager.default.copyItem(
            at: URL(fileURLWithPath: fixture.config.settings.policiesDirectory).appendingPathComponent("resources.json"),
            to: URL(fileURLWithPath: directory).appendingPathComponent("resources.json"))
        var config = fixture.config
        config.settings.policiesDirectory = directory
        return config
    }

    /// Sends a request and returns the raw answer (for its headers).
    static func raw(
        _ client: some TestClientProtocol, _ method: HTTPRequest.Method, _ uri: String, token: String,
        body: String? = nil
    ) async throws -> TestResponse {
        var headers: HTTPFields = [.contentType: "application/json", .authorization: "Bearer \(token)"]
        headers[.accept] = "application/json"
        return try await client.execute(uri: uri, method: method, headers: headers, body: body.map { ByteBuffer(string: $0) })
    }
}
