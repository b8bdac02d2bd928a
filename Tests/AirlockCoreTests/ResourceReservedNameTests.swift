import AirlockCore
import Foundation
import Testing

/// Names the catalog keeps free for Airlock's own PostgreSQL roles (issue 10, item 4).
@Suite("Resource reserved names")
struct ResourceReservedNameTests {
    /// A resources document of `postgres` resources: (id, database, role template names).
    static func document(_ resources: [(id: String, database: String, roles: [String])]) -> Data {
        let grant: [String: Any] = ["privileges": ["SELECT"], "object": "table", "schema": "public", "tables": "*"]
        let items: [[String: Any]] = resources.map { resource in
            [
                "id": resource.id, "kind": "postgres", "env": "prod",
                "postgres": [
                    "host": "db.internal", "port": 5432, "database": resource.database, "admin_user": "airlock_admin",
                    "admin_password_env": "PW",
                ],
                "roles": Dictionary(uniqueKeysWithValues: resource.roles.map { ($0, ["grants": [grant]]) }),
            ]
        }
        return (try? JSONSerialization.data(withJSONObject: ["resources": items])) ?? Data()
    }

    static func parse(_ resources: [(id: String, database: String, roles: [String])]) throws -> ResourceCatalog {
        try ResourceCatalog.parse(document(resources), environment: ["PW": "pw"])
    }

    @Test("a postgres role template named `g_…` is refused at load: its logins would be named like group roles")
    func reservedTemplatePrefix() throws {
        do {
            _ = try Self.parse([(id: "orders-db", database: "orders", roles: ["readonly", "g_reader"])])
            Issue.record("a template named g_reader was accepted")
        } catch let error as ResourceCatalogError {
            #expect(error.resource == "orders-db" && error.field == "roles.g_reader", "\(error)")
            #expect(error.description.contains("`g_`") && error.description.contains("airlock_g_"), "\(error)")
        }
        // Only where role names are made from it: a token template may be called so, and so may `gx` or `big_g_`.
        let tokens = """
            {"resources": [{"id": "api", "kind": "token", "env": "prod", "roles": {"g_read": {"scopes": ["r"]}}}]}
            """
        #expect(try ResourceCatalog.parse(Data(tokens.utf8), environment: [:])["api"]?.roles["g_read"] != nil)
        _ = try Self.parse([(id: "orders-db", database: "orders", roles: ["gx", "big_g_", "g"])])
    }
}
