import AirlockCore
import AirlockProviders
import AirlockTestSupport
import Foundation
import PostgresNIO
import Testing

/// Revocation drops what a login created; it never hands it to the admin role (issue 11, item 9).
@Suite struct RevocationDropsOwnedTests {
    @Test("a SECURITY DEFINER function and a view a login wrote are dropped, not handed to the admin",
          .timeLimit(.minutes(3)))
    func objectsOfTheLoginAreDropped() async throws {
        let fixture = try await TargetFixture.make()
        try await withProvider { provider in
            let lease = UUID()
            let credential = try await provider.mint(
                resource: fixture.resource, role: "readonly", leaseID: lease, validUntil: Date().addingTimeInterval(600))
            // A schema the login may create in, as on a target that lets its users write.
            try await fixture.execute("CREATE SCHEMA scratch")
            try await fixture.execute("GRANT USAGE, CREATE ON SCHEMA scratch TO \(credential.username)")
            let session = try await login(credential)
            try await session.query(
                "CREATE FUNCTION scratch.escalate() RETURNS text LANGUAGE sql SECURITY DEFINER AS 'SELECT current_user::text'",
                logger: TestDatabase.logger)
            try await session.query("CREATE VIEW scratch.peek AS SELECT 1 AS one", logger: TestDatabase.logger)
            try await session.close()

            let outcome = try await provider.revoke(resource: fixture.resource, leaseID: lease, username: credential.username)
            #expect(outcome.isComplete, "\(outcome)")
            let functions = try await fixture.rows(
                "SELECT pg_get_userbyid(proowner)::text FROM pg_proc WHERE proname = 'escalate'")
            #expect(functions.isEmpty, "the login's SECURITY DEFINER function survived its revocation")
            let views = try await fixture.rows("SELECT pg_get_userbyid(relowner)::text FROM pg_class WHERE relname = 'peek'")
            #expect(views.isEmpty, "the login's view survived its revocation")
            #expect(try await fixture.rows("SELECT 1 FROM pg_roles WHERE rolname = \(credential.username)").isEmpty)
        }
    }

    @Test("a login whose objects cannot be dropped keeps no privilege, and the failure says why",
          .timeLimit(.minutes(3)))
    func undroppableLoginLosesItsMemberships() async throws {
        let fixture = try await TargetFixture.make()
        try await withProvider { provider in
            let lease = UUID()
            let credential = try await provider.mint(
                resource: fixture.resource, role: "readonly", leaseID: lease, validUntil: Date().addingTimeInterval(600))
            try await fixture.execute("CREATE SCHEMA scratch")
            try await fixture.execute("GRANT USAGE, CREATE ON SCHEMA scratch TO \(credential.username)")
            let session = try await login(credential)
            try await session.query("CREATE TABLE scratch.notes (body text)", logger: TestDatabase.logger)
            try await session.close()
            // Another role's view depends on the login's table: DROP OWNED (without CASCADE) cannot drop it.
            try await fixture.execute("CREATE VIEW public.notes_view AS SELECT body FROM scratch.notes")

            let outcome = try await provider.revoke(resource: fixture.resource, leaseID: lease, username: credential.username)
            #expect(!outcome.isComplete)
            #expect(outcome.failures[.dropOwned] != nil, "\(outcome)")
            let memberships = try await fixture.rows("""
                SELECT 1 FROM pg_auth_members m JOIN pg_roles u ON u.oid = m.member WHERE u.rolname = \(credential.username)
                """)
            #expect(memberships.isEmpty, "the login left in place is still a member of its group role")
            let canLogin = try await fixture.rows("SELECT rolcanlogin FROM pg_roles WHERE rolname = \(credential.username)")
            #expect(try canLogin.first?.decode(Bool.self) == false)
            #expect(await loginFailure(credential) != nil)

            // Once the other role's object is gone, the retry completes.
            try await fixture.execute("DROP VIEW public.notes_view")
            let retry = try await provider.revoke(resource: fixture.resource, leaseID: lease, username: credential.username)
            #expect(retry.isComplete, "\(retry)")
            #expect(try await fixture.rows("SELECT 1 FROM pg_class WHERE relname = 'notes'").isEmpty)
        }
    }
}
