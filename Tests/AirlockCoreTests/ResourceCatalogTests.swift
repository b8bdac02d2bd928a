import AirlockCore
import Foundation
import Testing

@Suite("Resource catalog")
struct ResourceCatalogTests {
    static let devEnvironment = [
        "AIRLOCK_DEV_PG_HOST": "127.0.0.1", "AIRLOCK_DEV_PG_PORT": "54329",
        "AIRLOCK_DEV_PG_ADMIN_USER": "airlock_admin", "AIRLOCK_DEV_PG_ADMIN_PASSWORD": "s3cret-dev",
    ]
    static let demoFile = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Policies/resources.json")

    @Test("the demo resources file loads, with dev substitution")
    func demo() throws {
        let catalog = try ResourceCatalog.load(contentsOf: Self.demoFile, environment: Self.devEnvironment)
        #expect(catalog.resources.map(\.id) == ["orders-db", "orders-staging", "payments-api"])
        let orders = try #require(catalog["orders-db"])
        #expect(orders.kind == .postgres && orders.env == "prod" && orders.owner == "payments" && orders.sensitivity == 7)
        #expect(orders.postgres?.host == "127.0.0.1" && orders.postgres?.port == 54329)
        #expect(orders.postgres?.database == "orders" && orders.postgres?.adminPassword == "s3cret-dev")
        #expect(Set(orders.roles.keys) == ["readonly", "readwrite"])
        #expect(orders.roles["readonly"]?.grants.contains { $0.privileges == ["SELECT"] && $0.pattern == "*" } == true)
        #expect(catalog["orders-staging"]?.postgres?.database == "orders_staging")
        #expect(orders.postgres?.scramIterations == PostgresTarget.defaultSCRAMIterations)
        let strict = try ResourceCatalog.parse(
            Data(Self.postgres(Self.setTarget("scram_iterations", 4096)).utf8), environment: ["PW": "pw-value"])
        #expect(strict["orders-db"]?.postgres?.scramIterations == 4096)
        #expect(catalog["orders-staging"]?.env == "staging")
        let api = try #require(catalog["payments-api"])
        #expect(api.kind == .token && api.audience == "payments-api")
        #expect(api.roles["write"]?.scopes == ["payments:read", "payments:write"])
    }

    @Test("a target printed any way never shows the admin password")
    func targetDescriptions() throws {
        let catalog = try ResourceCatalog.load(contentsOf: Self.demoFile, environment: Self.devEnvironment)
        let orders = try #require(catalog["orders-db"])
        for text in [String(describing: orders), String(reflecting: orders), "\(catalog)", String(reflecting: catalog),
                     String(describing: orders.postgres), "\([orders])"] {
            #expect(!text.contains("s3cret-dev"), "\(text.prefix(120))")
        }
        #expect(String(describing: orders.postgres).contains("127.0.0.1:54329/orders"))
    }

    @Test("an unset substitution variable names the resource and field")
    func unsetVariable() {
        var environment = Self.devEnvironment
        environment["AIRLOCK_DEV_PG_PORT"] = nil
        let error = Self.error { try ResourceCatalog.load(contentsOf: Self.demoFile, environment: environment) }
        #expect(error?.resource == "orders-db" && error?.field == "postgres.port")
        #expect(error?.description.contains("AIRLOCK_DEV_PG_PORT") == true)
    }

    /// One valid postgres resource, as a JSON object text with `{{...}}` holes filled by the cases.
    static func postgres(_ patch: (inout [String: Any]) -> Void) -> String {
        var grant: [String: Any] = ["privileges": ["SELECT"], "object": "table", "schema": "public", "tables": "*"]
        var target: [String: Any] = [
            "host": "db.internal", "port": 5432, "database": "orders", "admin_user": "airlock_admin",
            "admin_password_env": "PW",
        ]
        var resource: [String: Any] = [
            "id": "orders-db", "kind": "postgres", "env": "prod", "sensitivity": 7,
            "roles": ["readonly": ["grants": [grant]]],
        ]
        grant["x"] = nil
        target["x"] = nil
        resource["postgres"] = target
        patch(&resource)
        let data = (try? JSONSerialization.data(withJSONObject: ["resources": [resource]], options: [.sortedKeys])) ?? Data()
        return String(decoding: data, as: UTF8.self)
    }

    static func setGrant(_ key: String, _ value: Any) -> (inout [String: Any]) -> Void {
        { resource in
            var grant: [String: Any] = ["privileges": ["SELECT"], "object": "table", "schema": "public", "tables": "*"]
            grant[key] = value
            resource["roles"] = ["readonly": ["grants": [grant]]]
        }
    }

    static func setTarget(_ key: String, _ value: Any?) -> (inout [String: Any]) -> Void {
        { resource in
            var target = resource["postgres"] as? [String: Any] ?? [:]
            target[key] = value
            resource["postgres"] = target
        }
    }

    static var invalidCases: [(String, (inout [String: Any]) -> Void, String?, String)] { [
        ("unknown key", { $0["colour"] = "red" }, "orders-db", "colour"),
        ("bad id", { $0["id"] = "Orders DB" }, "resources[0]", "id"),
        ("id injection", { $0["id"] = "x'; drop table resources; --" }, "resources[0]", "id"),
        ("bad kind", { $0["kind"] = "mysql" }, "orders-db", "kind"),
        ("sensitivity 11", { $0["sensitivity"] = 11 }, "orders-db", "sensitivity"),
        ("sensitivity -1", { $0["sensitivity"] = -1 }, "orders-db", "sensitivity"),
        ("role name injection", { $0["roles"] = ["ro\"; drop role x; --": ["grants": []]] }, "orders-db", "roles.ro\"; drop role x; --"),
        ("role name too long", { $0["roles"] = ["a_very_long_role_name_x": ["grants": []]] }, "orders-db", "roles.a_very_long_role_name_x"),
        ("schema injection", setGrant("schema", "public; drop schema public"), "orders-db", "roles.readonly.grants[0].schema"),
        ("table injection", setGrant("tables", "orders\" cascade; --"), "orders-db", "roles.readonly.grants[0].tables"),
        ("privilege not allowed", setGrant("privileges", ["ALL"]), "orders-db", "roles.readonly.grants[0].privileges"),
        ("privilege injection", setGrant("privileges", ["SELECT, CREATE"]), "orders-db", "roles.readonly.grants[0].privileges"),
        ("object kind", setGrant("object", "function"), "orders-db", "roles.readonly.grants[0].object"),
        ("grant unknown key", setGrant("sql", "GRANT ALL"), "orders-db", "roles.readonly.grants[0].sql"),
        ("inline password", setTarget("admin_password", "hunter2"), "orders-db", "postgres.admin_password"),
        ("no password source", setTarget("admin_password_env", nil), "orders-db", "postgres.admin_password_env"),
        ("both password sources", setTarget("admin_password_file", "/etc/pw"), "orders-db", "postgres.admin_password_file"),
        ("unset password variable", setTarget("admin_password_env", "NOT_SET"), "orders-db", "postgres.admin_password_env"),
        ("port 0", setTarget("port", 0), "orders-db", "postgres.port"),
        ("port 65536", setTarget("port", 65536), "orders-db", "postgres.port"),
        ("missing host", setTarget("host", nil), "orders-db", "postgres.host"),
        ("missing database", setTarget("database", nil), "orders-db", "postgres.database"),
        ("database injection", setTarget("database", "orders; drop database orders"), "orders-db", "postgres.database"),
        ("admin user injection", setTarget("admin_user", "postgres\" superuser"), "orders-db", "postgres.admin_user"),
        ("sslmode", setTarget("sslmode", "verify-maybe"), "orders-db", "postgres.sslmode"),
        ("scram iterations 0", setTarget("scram_iterations", 0), "orders-db", "postgres.scram_iterations"),
        ("scram iterations too many", setTarget("scram_iterations", 1_000_001), "orders-db", "postgres.scram_iterations"),
        ("scram iterations as text", setTarget("scram_iterations", "4096"), "orders-db", "postgres.scram_iterations"),
        ("missing postgres", { $0["postgres"] = nil }, "orders-db", "postgres"),
        ("token with postgres", { $0["kind"] = "token" }, "orders-db", "postgres"),
        ("no roles", { $0["roles"] = [String: Any]() }, "orders-db", "roles"),
    ] }

    @Test("every invalid resource is an error naming the resource and the field", arguments: invalidCases.indices)
    func invalid(_ index: Int) {
        let (name, patch, resource, field) = Self.invalidCases[index]
        let text = Self.postgres(patch)
        let error = Self.error { try ResourceCatalog.parse(Data(text.utf8), environment: ["PW": "pw-value"]) }
        #expect(error?.resource == resource, "\(name): \(String(describing: error))")
        #expect(error?.field == field, "\(name): \(String(describing: error))")
        #expect(error?.description.contains("pw-value") == false)
        #expect(error?.description.contains("hunter2") == false)
    }

    @Test("a valid base resource loads; duplicates and password files are handled")
    func baseAndDuplicates() throws {
        let base = Self.postgres { _ in }
        let catalog = try ResourceCatalog.parse(Data(base.utf8), environment: ["PW": "pw"])
        #expect(catalog["orders-db"]?.postgres?.adminPassword == "pw")

        let doubled = base.replacingOccurrences(of: "\"resources\":[", with: "\"resources\":[\(Self.postgres { _ in }.dropFirst(14).dropLast(2)),")
        let duplicate = Self.error { try ResourceCatalog.parse(Data(doubled.utf8), environment: ["PW": "pw"]) }
        #expect(duplicate?.resource == "orders-db" && duplicate?.field == "id")

        let file = FileManager.default.temporaryDirectory.appendingPathComponent("airlock-pw-\(UUID().uuidString)")
        try Data("from-file\n".utf8).write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        #expect(chmod(file.path, 0o600) == 0)
        let fromFile = Self.postgres { resource in
            Self.setTarget("admin_password_env", nil)(&resource)
            Self.setTarget("admin_password_file", file.path)(&resource)
        }
        #expect(try ResourceCatalog.parse(Data(fromFile.utf8), environment: [:])["orders-db"]?.postgres?.adminPassword == "from-file")
        // A password file others may read is refused, naming the file and the fix.
        #expect(chmod(file.path, 0o644) == 0)
        let exposed = Self.error { try ResourceCatalog.parse(Data(fromFile.utf8), environment: [:]) }
        #expect(exposed?.field == "postgres.admin_password_file")
        #expect(exposed?.message.contains("chmod 600 \(file.path)") == true)
    }

    @Test("a kind a registered provider serves is read with its settings; unknown otherwise")
    func providedKinds() throws {
        let memo = #"""
            {"resources": [{"id": "notes", "kind": "memo", "env": "prod",
              "settings": {"shelf": "runbooks"}, "roles": {"reader": {"access": "read"}}}]}
            """#
        let memoKind = try #require(Resource.Kind(rawValue: "memo"))
        let unknown = Self.error { try ResourceCatalog.parse(Data(memo.utf8), environment: [:]) }
        #expect(unknown?.field == "kind" && unknown?.message.contains("is not `postgres` or `token`") == true)
        let catalog = try ResourceCatalog.parse(Data(memo.utf8), environment: [:], providedKinds: [memoKind])
        let notes = try #require(catalog["notes"])
        #expect(notes.kind == memoKind && notes.settings == ["shelf": "runbooks"])
        #expect(notes.roles["reader"]?.settings == ["access": "read"])
        #expect(notes.postgres == nil && notes.audience == nil)

        let withTarget = memo.replacingOccurrences(of: #""settings""#, with: #""audience": "x", "settings""#)
        let mixed = Self.error { try ResourceCatalog.parse(Data(withTarget.utf8), environment: [:], providedKinds: [memoKind]) }
        #expect(mixed?.field == "audience", "\(String(describing: mixed))")
        let tokenWithSettings = #"""
            {"resources": [{"id": "api", "kind": "token", "env": "prod", "settings": {},
              "roles": {"read": {"scopes": ["a"]}}}]}
            """#
        let refused = Self.error { try ResourceCatalog.parse(Data(tokenWithSettings.utf8), environment: [:], providedKinds: [memoKind]) }
        #expect(refused?.field == "settings")
    }

    static func error(_ body: () throws -> ResourceCatalog) -> ResourceCatalogError? {
        do {
            _ = try body()
            return nil
        } catch {
            return error as? ResourceCatalogError
        }
    }
}
