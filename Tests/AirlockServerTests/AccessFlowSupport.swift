import AirlockCore
import AirlockPostgres
import AirlockServer
import AirlockStore
import AirlockTestSupport
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import PostgresNIO
import Testing

/// A broker wired to a real target database on the test cluster, with the dev issuer for tokens.
struct AccessFlowFixture {
    let config: ServerConfiguration
    let issuer: DevIssuer
    let target: DatabaseURL
    let otherDatabase: DatabaseURL

    static let policies = """
        permit "sre-readonly"
          when "sre" in principal.groups and resource.env == "prod" and request.role == "readonly"
           and principal has mfa_age and principal.mfa_age <= 15m
          ttl <= 1h;

        require_approval "prod-write"
          when principal.groups contains_any ["backend", "dba"] and request.role == "readwrite"
          approvers group("db-owners") count 2, group("security") count 1
          ttl <= 30m
          notify "security";
        """

    /// A fixture deciding with `policies`; `extraResources` are more resource objects for `resources.json`.
    static func make(policies: String = policies, extraResources: [String] = []) async throws -> AccessFlowFixture {
        let admin = try await TestDatabase.serverURL()
        let suffix = String(UInt32.random(in: 0...UInt32.max), radix: 36)
        let target = admin.with(database: "orders_\(suffix)")
        let other = admin.with(database: "other_\(suffix)")
        try await TestDatabase.run([
            "CREATE DATABASE \(target.database)", "REVOKE CONNECT, TEMPORARY ON DATABASE \(target.database) FROM PUBLIC",
            "CREATE DATABASE \(other.database)", "REVOKE CONNECT, TEMPORARY ON DATABASE \(other.database) FROM PUBLIC",
        ], on: admin.with(database: "postgres"))
        try await TestDatabase.run([
            "REVOKE ALL ON SCHEMA public FROM PUBLIC",
            "CREATE TABLE customers (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, name text NOT NULL)",
            "INSERT INTO customers (name) VALUES ('Ada'), ('Grace')",
        ], on: target)

        let directory = ServerSupport.writePolicies(policies)
        let resources = """
            {"resources": [{"id": "orders-db", "kind": "postgres", "env": "prod", "owner": "payments", "sensitivity": 7,
              "postgres": {"host": "${T_HOST}", "port": "${T_PORT}", "database": "\(target.database)",
                           "admin_user": "${T_USER}", "admin_password_env": "T_PASSWORD", "sslmode": "disable",
                           "connection_limit": 5},
              "roles": {
                "readonly": {"grants": [{"privileges": ["USAGE"], "object": "schema", "schema": "public"},
                                        {"privileges": ["SELECT"], "object": "table", "schema": "public", "tables": "*"}]},
                "readwrite": {"grants": [{"privileges": ["USAGE"], "object": "schema", "schema": "public"},
                                         {"privileges": ["SELECT", "INSERT", "UPDATE", "DELETE"], "object": "table",
                                          "schema": "public", "tables": "*"},
                                         {"privileges": ["USAGE", "SELECT"], "object": "sequence", "schema": "public",
                                          "sequences": "*"}]}}}\(extraResources.map { ", " + $0 }.joined())]}
            """
        try Data(resources.utf8).write(to: URL(fileURLWithPath: directory).appendingPathComponent("resources.json"))

        let broker = try await TestDatabase.fresh()
        // As in production and `airlock dev`: the broker's database accepts no logins it did not grant.
        try await TestDatabase.run(
            ["REVOKE CONNECT, TEMPORARY ON DATABASE \(broker.database) FROM PUBLIC"], on: admin.with(database: "postgres"))
        var config = try ServerSupport.configuration(url: broker)
        config.settings.policiesDirectory = directory
        config.environment = [
            "T_HOST": target.host, "T_PORT": "\(target.port)", "T_USER": target.username,
            "T_PASSWORD": target.password ?? "",
        ]
        let issuer = try DevIssuer()
        config.devIssuer = issuer
        return AccessFlowFixture(config: config, issuer: issuer, target: target, otherDatabase: other)
    }

    func token(_ user: String, groups: [String], mfa: Bool = false) async throws -> String {
        try await issuer.issueToken(user: user, groups: groups, mfa: mfa)
    }

    /// Adds resource `id` to `resources.json`: the fixture's target database reached through 127.0.0.1:`port` (a
    /// ``FaultProxy``), with a `readonly` role, for fault tests.
    func addResource(_ id: String, throughPort port: Int) throws {
        let resource = """
            {"id": "\(id)", "kind": "postgres", "env": "prod", "owner": "payments", "sensitivity": 7,
             "postgres": {"host": "127.0.0.1", "port": \(port), "database": "\(target.database)",
                          "admin_user": "${T_USER}", "admin_password_env": "T_PASSWORD", "sslmode": "disable"},
             "roles": {"readonly": {"grants": [{"privileges": ["USAGE"], "object": "schema", "schema": "public"}]}}}
            """
        let directory = try #require(config.settings.policiesDirectory)
        let file = URL(fileURLWithPath: directory).appendingPathComponent("resources.json")
        let resources = try String(contentsOf: file, encoding: .utf8)
        try Data((String(resources.dropLast(2)) + ", " + resource + "]}").utf8).write(to: file)
    }
}

extension TestClientProtocol {
    /// Sends `body` as JSON with `token` as bearer.
    func call(
        _ method: HTTPRequest.Method, _ uri: String, token: String?, body: String? = nil
    ) async throws -> (status: HTTPResponse.Status, json: JSONValue) {
        var headers: HTTPFields = [.contentType: "application/json"]
        if let token { headers[.authorization] = "Bearer \(token)" }
        let response = try await execute(
            uri: uri, method: method, headers: headers, body: body.map { ByteBuffer(string: $0) })
        let text = String(buffer: response.body)
        return (response.status, (try? JSONValue.parse(Data(text.utf8))) ?? .string(text))
    }
}

extension TestClientProtocol {
    /// Asks for `resource` readonly for `ttl` seconds (permitted at once for an `sre` with MFA) and picks it up;
    /// the lease id.
    func issueReadonly(_ token: String, resource: String, ttl: Int) async throws -> String {
        let asked = try await call(.post, "/v1/access-requests", token: token, body: """
            {"resource": "\(resource)", "role": "readonly", "ttl_seconds": \(ttl), "reason": "INC-7"}
            """)
        let id = try #require(asked.json["id"]?.stringValue, "\(asked.json)")
        let creds = try await call(.get, "/v1/access-requests/\(id)/credentials", token: token)
        return try #require(creds.json["lease_id"]?.stringValue, "\(creds.json)")
    }
}

/// Connects to `url` as `user`/`password` and runs `sql`; returns the error text, or nil on success.
func runAs(user: String, password: String, on url: DatabaseURL, _ sql: String) async -> String? {
    var login = url
    login.username = user
    login.password = password
    do {
        try await TestDatabase.run([sql], on: login)
        return nil
    } catch {
        return describeDatabaseError(error)
    }
}
