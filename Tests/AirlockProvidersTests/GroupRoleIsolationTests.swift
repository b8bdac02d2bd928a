import AirlockCore
import AirlockProviders
import AirlockStore
import AirlockTestSupport
import Foundation
import PostgresNIO
import Testing

/// Group roles never let a login past its own resource's database (issue 10, item 2), proved by logging in.
@Suite struct GroupRoleIsolationTests {
    /// SELECT and INSERT on every table of `public`, with what identity columns need.
    static func writer(_ name: String) -> RoleTemplate {
        RoleTemplate(name: name, grants: [
            .init(privileges: ["SELECT", "INSERT"], objectKind: .table, schema: "public"),
            .init(privileges: ["USAGE", "SELECT"], objectKind: .sequence, schema: "public"),
        ])
    }

    /// A fresh resource id (lower-case letters), so that tests sharing the cluster never share role names.
    static func freshID() -> String {
        String((0..<10).map { _ in "abcdefghijklmnopqrstuvwxyz".randomElement() ?? "a" })
    }

    static let expiry = Date().addingTimeInterval(3600)

    @Test("`x` + `db_readwrite` and `x-db` + `readwrite` (one group role name before) stay apart", .timeLimit(.minutes(3)))
    func resourcesWhoseNamesOnceMetDoNotShareAGroupRole() async throws {
        let production = try await TargetFixture.make()
        let staging = try await TargetFixture.make()  // another database of the same cluster
        let id = Self.freshID()
        let prod = Resource(
            id: id, kind: .postgres, env: "prod", postgres: production.resource.postgres,
            roles: ["db_readwrite": Self.writer("db_readwrite")])
        let stage = Resource(
            id: "\(id)-db", kind: .postgres, env: "staging", postgres: staging.resource.postgres,
            roles: ["readwrite": Self.writer("readwrite")])
        try await withProvider { provider in
            let prodGroup = try await provider.prepareGroupRole(resource: prod, role: "db_readwrite").groupRole
            let stageGroup = try await provider.prepareGroupRole(resource: stage, role: "readwrite").groupRole
            #expect(prodGroup != stageGroup)
            _ = try await provider.mint(resource: prod, role: "db_readwrite", leaseID: UUID(), validUntil: Self.expiry)
            let stagingLogin = try await provider.mint(
                resource: stage, role: "readwrite", leaseID: UUID(), validUntil: Self.expiry)
            let connection = try await login(stagingLogin)
            let insert = await failureState {
                try await connection.query("INSERT INTO customers (name) VALUES ('staging test')", logger: TestDatabase.logger)
            }
            try await connection.close()
            #expect(insert == nil)
            // The staging login cannot even connect to the production database, let alone write there.
            #expect(await loginFailure(stagingLogin, database: production.database) == "42501")
        }
    }

    @Test("one resource id on two databases of one cluster (two brokers) gets two group roles", .timeLimit(.minutes(3)))
    func oneResourceIDOnTwoDatabases() async throws {
        let first = try await TargetFixture.make()
        let second = try await TargetFixture.make()
        let id = Self.freshID()
        let onFirst = Resource(id: id, kind: .postgres, env: "prod", postgres: first.resource.postgres,
                               roles: ["readonly": TargetFixture.readonly])
        let onSecond = Resource(id: id, kind: .postgres, env: "staging", postgres: second.resource.postgres,
                                roles: ["readonly": TargetFixture.readonly])
        try await withProvider { provider in
            let a = try await provider.mint(resource: onFirst, role: "readonly", leaseID: UUID(), validUntil: Self.expiry)
            let b = try await provider.mint(resource: onSecond, role: "readonly", leaseID: UUID(), validUntil: Self.expiry)
            #expect(await loginFailure(a) == nil)
            #expect(await loginFailure(b) == nil)
            #expect(await loginFailure(a, database: second.database) == "42501")
            #expect(await loginFailure(b, database: first.database) == "42501")
        }
    }

    @Test("group role sync takes away what the group role holds on any other database", .timeLimit(.minutes(3)))
    func syncRevokesOtherDatabases() async throws {
        let fixture = try await TargetFixture.make()
        let other = try await fixture.makeOtherDatabase()
        try await withProvider { provider in
            let issued = try await provider.mint(
                resource: fixture.resource, role: "readonly", leaseID: UUID(), validUntil: Self.expiry)
            let group = try await provider.prepareGroupRole(resource: fixture.resource, role: "readonly").groupRole
            // A grant made by hand (or by an earlier broker whose group role two resources shared).
            try await fixture.execute("GRANT CONNECT, TEMPORARY ON DATABASE \(other) TO \(group)")
            #expect(await loginFailure(issued, database: other) == nil)

            try await provider.prepareGroupRole(resource: fixture.resource, role: "readonly", force: true)
            #expect(await loginFailure(issued, database: other) == "42501")
            let left = try await fixture.rows(
                """
                SELECT d.datname::text FROM pg_database d CROSS JOIN LATERAL aclexplode(d.datacl) a
                WHERE a.grantee = (SELECT oid FROM pg_roles WHERE rolname = \(group))
                """)
            #expect(try left.map { try $0.decode(String.self) } == [fixture.database])
            #expect(await loginFailure(issued) == nil)  // its own database still works
        }
    }

    @Test("on upgrade: a login of an old-style group role is still revoked, and new logins join a new group role",
          .timeLimit(.minutes(3)))
    func oldGroupRoleLoginsStayRevocable() async throws {
        let fixture = try await TargetFixture.make()
        let id = Self.freshID()
        let resource = Resource(id: id, kind: .postgres, env: "prod", postgres: fixture.resource.postgres,
                                roles: ["readonly": TargetFixture.readonly])
        // What an earlier broker left: `airlock_g_<id>_<template>` and a login in it, commented with its lease.
        let oldGroup = "airlock_g_\(id)_readonly"
        let oldLogin = "airlock_readonly_\(Self.freshID())ab"
        let lease = UUID()
        let password = "Old" + SecureRandom.base62(30)
        for statement in [
            "CREATE ROLE \(oldGroup) NOLOGIN", "COMMENT ON ROLE \(oldGroup) IS 'airlock group role'",
            "GRANT CONNECT ON DATABASE \(fixture.database) TO \(oldGroup)", "GRANT USAGE ON SCHEMA public TO \(oldGroup)",
            "GRANT SELECT ON ALL TABLES IN SCHEMA public TO \(oldGroup)",
            "CREATE ROLE \(oldLogin) LOGIN PASSWORD '\(password)' IN ROLE \(oldGroup)",
            "COMMENT ON ROLE \(oldLogin) IS 'airlock lease \(lease.uuidString.lowercased())'",
        ] {
            try await fixture.execute(statement)
        }
        let old = PostgresCredential(
            username: oldLogin, password: password, host: fixture.admin.host, port: fixture.admin.port,
            database: fixture.database, sslMode: "disable", expiresAt: Self.expiry, leaseID: lease)
        #expect(await loginFailure(old) == nil)
        try await withProvider { provider in
            let new = try await provider.mint(resource: resource, role: "readonly", leaseID: UUID(), validUntil: Self.expiry)
            let groups = try await fixture.rows(
                """
                SELECT g.rolname::text FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid
                JOIN pg_roles l ON l.oid = m.member WHERE l.rolname = \(new.username)
                """)
            let group = try #require(groups.first).decode(String.self)
            #expect(group != oldGroup && group.hasPrefix("airlock_g_\(id)_readonly_"))
            #expect(await loginFailure(new) == nil)

            let outcome = try await provider.revoke(LeaseCredential(leaseID: lease, username: oldLogin), on: resource)
            #expect(outcome.isComplete && outcome.existed)
            #expect(await loginFailure(old) == "28P01")
            #expect(try await fixture.rows("SELECT 1 FROM pg_roles WHERE rolname = \(oldGroup)").count == 1)  // left
        }
    }
}
