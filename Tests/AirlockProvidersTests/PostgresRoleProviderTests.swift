import AirlockCore
import AirlockProviders
import AirlockStore
import AirlockTestSupport
import Foundation
import PostgresNIO
import Testing

/// The provider against real PostgreSQL: every claim is checked by logging in with the issued role.
@Suite struct PostgresRoleProviderTests {
    @Test(.timeLimit(.minutes(3)))
    func readonlyLoginCanSelectButNotWriteAndOnlyReachItsDatabase() async throws {
        let fixture = try await TargetFixture.make()
        let other = try await fixture.makeOtherDatabase()
        let leaseID = UUID()
        try await withProvider { provider in
            let credential = try await provider.mint(
                resource: fixture.resource, role: "readonly", leaseID: leaseID, validUntil: Date().addingTimeInterval(600))
            #expect(credential.username.hasPrefix("airlock_readonly_") && credential.password.count == 40)

            let connection = try await login(credential)
            let count = try await connection.query("SELECT count(*)::int8 FROM customers", logger: TestDatabase.logger)
                .collect().first?.decode(Int64.self)
            #expect(count == 2)
            let insert = await failureState {
                try await connection.query("INSERT INTO customers (name) VALUES ('Mallory')", logger: TestDatabase.logger)
            }
            #expect(insert == "42501")  // permission denied
            try await connection.close()

            #expect(await loginFailure(credential, database: other) == "42501")  // no CONNECT on other databases
            #expect(await loginFailure(credential, database: "postgres") == "42501")

            let role = try #require(try await fixture.rows(
                """
                SELECT rolpassword, rolinherit, rolsuper, rolcreaterole, rolcreatedb, rolconnlimit::int8,
                       shobj_description(oid, 'pg_authid')
                FROM pg_authid WHERE rolname = \(credential.username)
                """
            ).first)
            let (verifier, inherit, superuser, createRole, createDB, limit, comment) =
                try role.decode((String, Bool, Bool, Bool, Bool, Int64, String).self)
            #expect(verifier.hasPrefix("SCRAM-SHA-256$\(PostgresTarget.defaultSCRAMIterations):"))
            #expect(!verifier.contains(credential.password))
            #expect(inherit && !superuser && !createRole && !createDB && limit == 5)
            #expect(comment == "airlock lease \(leaseID.uuidString.lowercased())")
        }
    }

    @Test("a login is found by its lease (COMMENT ON ROLE) when its name was never recorded", .timeLimit(.minutes(3)))
    func loginFoundByLease() async throws {
        let fixture = try await TargetFixture.make()
        let resource = fixture.resource
        try await withProvider { provider in
            let lease = UUID()
            let credential = try await provider.mint(
                resource: resource, role: "readonly", leaseID: lease, validUntil: Date().addingTimeInterval(600))
            #expect(try await provider.login(of: lease, on: resource) == credential.username)
            #expect(try await provider.login(of: UUID(), on: resource) == nil)
            _ = try await provider.revoke(resource: resource, leaseID: lease, username: credential.username)
            #expect(try await provider.login(of: lease, on: resource) == nil)
        }
    }

    @Test("a target's scram_iterations goes into the verifier, and the login works", .timeLimit(.minutes(3)))
    func scramIterationsOfTheTarget() async throws {
        let fixture = try await TargetFixture.make()
        var changed = fixture.resource
        changed.postgres?.scramIterations = 4096
        let strict = changed
        try await withProvider { provider in
            let credential = try await provider.mint(
                resource: strict, role: "readonly", leaseID: UUID(), validUntil: Date().addingTimeInterval(600))
            let connection = try await login(credential)
            let count = try await connection.query("SELECT count(*)::int8 FROM customers", logger: TestDatabase.logger)
                .collect().first?.decode(Int64.self)
            #expect(count == 2)
            try await connection.close()
            let verifier = try #require(try await fixture.rows(
                "SELECT rolpassword FROM pg_authid WHERE rolname = \(credential.username)").first).decode(String.self)
            #expect(verifier.hasPrefix("SCRAM-SHA-256$4096:"))
        }
    }

    @Test(.timeLimit(.minutes(3)))
    func readwriteCanInsertAndTheGroupRoleFollowsTemplateChanges() async throws {
        let fixture = try await TargetFixture.make()
        try await withProvider { provider in
            let expiry = Date().addingTimeInterval(600)
            let writer = try await provider.mint(resource: fixture.resource, role: "readwrite", leaseID: UUID(), validUntil: expiry)
            let connection = try await login(writer)
            try await connection.query("INSERT INTO customers (name) VALUES ('Katherine Johnson')", logger: TestDatabase.logger)
            try await connection.close()

            var changed = fixture.resource
            changed.roles["readwrite"] = RoleTemplate(
                name: "readwrite", grants: [.init(privileges: ["SELECT", "UPDATE"], objectKind: .table, schema: "public")])
            let next = try await provider.mint(resource: changed, role: "readwrite", leaseID: UUID(), validUntil: expiry)
            let second = try await login(next)
            let insert = await failureState {
                try await second.query("INSERT INTO customers (name) VALUES ('Mallory')", logger: TestDatabase.logger)
            }
            #expect(insert == "42501")
            try await second.query("UPDATE customers SET name = name WHERE id = 1", logger: TestDatabase.logger)
            try await second.close()

            let again = try await provider.prepareGroupRole(resource: changed, role: "readwrite", force: true)
            #expect(again.grants == 0 && again.revokes == 0 && !again.created)  // idempotent
        }
    }

    @Test(.timeLimit(.minutes(3)))
    func tablePatternGrantsOnlyMatchingTables() async throws {
        let fixture = try await TargetFixture.make()
        try await withProvider { provider in
            let credential = try await provider.mint(
                resource: fixture.resource, role: "orders_only", leaseID: UUID(), validUntil: Date().addingTimeInterval(600))
            let connection = try await login(credential)
            try await connection.query("SELECT * FROM orders", logger: TestDatabase.logger)
            try await connection.query("SELECT * FROM order_items", logger: TestDatabase.logger)
            let customers = await failureState {
                try await connection.query("SELECT * FROM customers", logger: TestDatabase.logger)
            }
            #expect(customers == "42501")
            try await connection.close()
        }
    }

    @Test(.timeLimit(.minutes(3)))
    func validUntilStopsNewLogins() async throws {
        let fixture = try await TargetFixture.make()
        try await withProvider { provider in
            // Prepare the group role first, so the short validity below is not spent on it on a loaded machine.
            try await provider.prepare(resource: fixture.resource, role: "readonly")
            let validUntil = Date().addingTimeInterval(4)
            let credential = try await provider.mint(
                resource: fixture.resource, role: "readonly", leaseID: UUID(), validUntil: validUntil)
            #expect(await loginFailure(credential) == nil)
            try await Task.sleep(for: .seconds(max(0, validUntil.timeIntervalSinceNow) + 1.5))
            #expect(await loginFailure(credential) == "28P01")  // password authentication failed
        }
    }

    @Test(.timeLimit(.minutes(3)))
    func revocationEndsSessionsAndLoginsAndIsIdempotent() async throws {
        let fixture = try await TargetFixture.make()
        try await withProvider { provider in
            let lease = UUID()
            let credential = try await provider.mint(
                resource: fixture.resource, role: "readonly", leaseID: lease, validUntil: Date().addingTimeInterval(600))
            let session = try await login(credential)
            try await session.query("SELECT 1", logger: TestDatabase.logger)

            let outcome = try await provider.revoke(resource: fixture.resource, leaseID: lease, username: credential.username)
            #expect(outcome.isComplete && outcome.existed && outcome.terminatedSessions == 1)
            // The server ended the open session: its socket closes (postgres-nio does not fail a query sent on a
            // connection the server terminated while idle, so watch the socket rather than query).
            let deadline = ContinuousClock.now + .seconds(10)
            while !session.isClosed && ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(50))
            }
            #expect(session.isClosed)
            if !session.isClosed { try? await session.close() }
            let sessions = try await fixture.rows(
                "SELECT 1 FROM pg_stat_activity WHERE usename = \(credential.username)")
            #expect(sessions.isEmpty)
            #expect(await loginFailure(credential) == "28P01")
            let left = try await fixture.rows("SELECT 1 FROM pg_roles WHERE rolname = \(credential.username)")
            #expect(left.isEmpty)

            let twice = try await provider.revoke(resource: fixture.resource, leaseID: lease, username: credential.username)
            #expect(twice.isComplete && !twice.existed)
            await #expect(throws: ProviderError.self) {
                try await provider.revoke(resource: fixture.resource, leaseID: lease, username: "postgres")
            }
        }
    }

    @Test(.timeLimit(.minutes(3)))
    func thirtyTwoConcurrentMintsAllSucceedAndLogIn() async throws {
        let fixture = try await TargetFixture.make()
        try await withProvider { provider in
            let expiry = Date().addingTimeInterval(600)
            let credentials = try await withThrowingTaskGroup(of: PostgresCredential.self) { group in
                for index in 0..<32 {
                    group.addTask {
                        try await provider.mint(
                            resource: fixture.resource, role: index.isMultiple(of: 2) ? "readonly" : "readwrite",
                            leaseID: UUID(), validUntil: expiry)
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(Set(credentials.map(\.username)).count == 32)
            let failures = await withTaskGroup(of: String?.self) { group in
                for credential in credentials {
                    group.addTask {
                        await failureState {
                            let connection = try await login(credential)
                            try await connection.query("SELECT count(*) FROM orders", logger: TestDatabase.logger)
                            try await connection.close()
                        }
                    }
                }
                return await group.reduce(into: []) { if let failure = $1 { $0.append(failure) } }
            }
            #expect(failures.isEmpty)
        }
    }

    @Test(.timeLimit(.minutes(3)))
    func errorsNeverContainPasswords() async throws {
        let wrongPassword = "WrongAdminPassw0rd" + SecureRandom.base62(20)
        let fixture = try await TargetFixture.make(adminPassword: wrongPassword)
        try await withProvider { provider in
            do {
                _ = try await provider.mint(
                    resource: fixture.resource, role: "readonly", leaseID: UUID(), validUntil: Date().addingTimeInterval(60))
                Issue.record("minting with a wrong admin password succeeded")
            } catch {
                let texts = [String(describing: error), String(reflecting: error), "\(error)"]
                #expect(texts.allSatisfy { !$0.contains(wrongPassword) })
                #expect((error as? ProviderError)?.code == "target_unreachable")
                #expect(String(describing: error).contains("password authentication failed"))
            }
            let revocation = try await provider.revoke(
                resource: fixture.resource, leaseID: UUID(), username: "airlock_readonly_0123456789ab")
            #expect(!revocation.isComplete)
            #expect(!String(describing: revocation).contains(wrongPassword))
        }
    }
}
