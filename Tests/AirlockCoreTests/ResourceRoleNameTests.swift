import AirlockCore
import Foundation
import Testing

/// The PostgreSQL role names the catalog reserves and checks at load (issue 10, items 2 and 4).
@Suite("Resource role names")
struct ResourceRoleNameTests {
    static func parse(_ resources: [(id: String, database: String, roles: [String])]) throws -> ResourceCatalog {
        try ResourceReservedNameTests.parse(resources)
    }

    @Test("the issue's pair (`orders` + `db_readwrite`, `orders-db` + `readwrite`) get distinct group roles and load")
    func issuePairIsDistinct() throws {
        let catalog = try Self.parse([
            (id: "orders", database: "orders", roles: ["db_readwrite"]),
            (id: "orders-db", database: "orders_staging", roles: ["readwrite"]),
        ])
        #expect(catalog.resources.count == 2)
        let first = PostgresRoleNames.groupRole(resourceID: "orders", template: "db_readwrite", database: "orders")
        let second = PostgresRoleNames.groupRole(resourceID: "orders-db", template: "readwrite", database: "orders")
        #expect(first != second)
        #expect(first.hasPrefix("airlock_g_orders_db_readwrite_") && second.hasPrefix("airlock_g_orders_db_readwrite_"))
        // The database is part of the name: one resource id on two databases of a cluster (two brokers) differs too.
        #expect(PostgresRoleNames.groupRole(resourceID: "orders-db", template: "readwrite", database: "orders_staging")
            != second)
        // Pure: the same parts always give the same name.
        #expect(PostgresRoleNames.groupRole(resourceID: "orders-db", template: "readwrite", database: "orders") == second)
    }

    @Test("group role names are identifiers of at most 63 bytes, distinct for distinct parts, long ids included")
    func namesFitAndDiffer() {
        let long = String(repeating: "a", count: 61)
        var names: Set<String> = []
        var count = 0
        for id in ["a", "a-b", "a-b-c", "ab", long + "-x", long + "-y", "orders", "orders-db", "orders-db-readonly"] {
            for template in ["readonly", "db_readonly", "b_c", "c", "x", "y", String(repeating: "t", count: 20)] {
                for database in ["orders", "orders_staging", String(repeating: "d", count: 63)] {
                    let name = PostgresRoleNames.groupRole(resourceID: id, template: template, database: database)
                    #expect(name.utf8.count <= 63, "\(name)")
                    #expect(name.allSatisfy { ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "_" })
                    #expect(name.hasPrefix(PostgresRoleNames.groupRolePrefix))
                    names.insert(name)
                    count += 1
                }
            }
        }
        #expect(names.count == count)
    }

    @Test("two templates that would share a group role are refused at load, naming both")
    func collisionNamesBoth() throws {
        let resources = try Self.parse([
            (id: "orders", database: "orders", roles: ["db_readwrite", "readonly"]),
            (id: "orders-db", database: "orders_staging", roles: ["readwrite"]),
        ]).resources
        // The naming of earlier versions (`-` turned into `_`), which gave both the same group role.
        let earlier: (Resource, String) -> String = { resource, template in
            "airlock_g_\(resource.id.replacingOccurrences(of: "-", with: "_"))_\(template)"
        }
        do {
            try ResourceCatalog.checkDistinctGroupRoles(resources, groupRole: earlier)
            Issue.record("a shared group role was accepted")
        } catch {
            #expect(error.resource == "orders-db" && error.field == "roles.readwrite", "\(error)")
            #expect(error.description.contains("`airlock_g_orders_db_readwrite`"), "\(error)")
            #expect(error.description.contains("resource `orders`, role `db_readwrite`"), "\(error)")
        }
        try ResourceCatalog.checkDistinctGroupRoles(resources) { resource, template in
            PostgresRoleNames.groupRole(resourceID: resource.id, template: template, database: resource.postgres?.database ?? "")
        }
    }
}
