import AirlockCore
import AirlockProviders
import AirlockStore
import AirlockTestSupport
import Foundation
import PostgresNIO
import Testing

/// What a lease may extend or drop is decided by its own record (the login it names, carrying its comment), never
/// by the shape of a role's name (issue 10, item 4). Each test goes through the provider seam the revoker uses.
@Suite struct RevocationByRecordTests {
    static let expiry = Date().addingTimeInterval(3600)

    static func suffix() -> String {
        String((0..<12).map { _ in "abcdefghijklmnopqrstuvwxyz0123456789".randomElement() ?? "a" })
    }

    /// A login made as an issuance makes it (password, membership in the group role, the lease's comment), under
    /// `name`: what an earlier broker issued for a template it accepted then.
    static func makeLogin(
        _ name: String, lease: UUID?, fixture: TargetFixture, provider: PostgresRoleProvider
    ) async throws -> PostgresCredential {
        let group = try await provider.prepareGroupRole(resource: fixture.resource, role: "readonly").groupRole
        let password = "Pw" + SecureRandom.base62(30)
        try await fixture.execute("CREATE ROLE \(name) LOGIN PASSWORD '\(password)' IN ROLE \(group)")
        if let lease {
            try await fixture.execute("COMMENT ON ROLE \(name) IS 'airlock lease \(lease.uuidString.lowercased())'")
        }
        return PostgresCredential(
            username: name, password: password, host: fixture.admin.host, port: fixture.admin.port,
            database: fixture.database, sslMode: "disable", expiresAt: expiry, leaseID: lease ?? UUID())
    }

    @Test("a login named like a group role (a `g_…` template) is revoked: sessions end, the role is dropped",
          .timeLimit(.minutes(3)))
    func loginNamedLikeAGroupRoleIsRevoked() async throws {
        let fixture = try await TargetFixture.make()
        let lease = UUID()
        try await withProvider { provider in
            let credential = try await Self.makeLogin(
                "airlock_g_reader_\(Self.suffix())", lease: lease, fixture: fixture, provider: provider)
            let session = try await login(credential)
            let outcome: RevocationOutcome
            do {
                try await session.query("SELECT count(*) FROM customers", logger: TestDatabase.logger)
                outcome = try await provider.revoke(
                    LeaseCredential(leaseID: lease, username: credential.username), on: fixture.resource)
            } catch {
                try? await session.close()
                throw error
            }
            #expect(outcome.isComplete && outcome.existed && outcome.terminatedSessions == 1, "\(outcome)")
            #expect(await loginFailure(credential) == "28P01")
            #expect(try await fixture.rows("SELECT 1 FROM pg_roles WHERE rolname = \(credential.username)").isEmpty)
            if !session.isClosed { try? await session.close() }
        }
    }

    @Test("an issuance that never recorded its login: the role carrying the lease's comment is revoked",
          .timeLimit(.minutes(3)))
    func unrecordedLoginFoundByItsComment() async throws {
        let fixture = try await TargetFixture.make()
        let lease = UUID()
        try await withProvider { provider in
            let credential = try await Self.makeLogin(
                "airlock_readonly_\(Self.suffix())", lease: lease, fixture: fixture, provider: provider)
            let outcome = try await provider.revoke(LeaseCredential(leaseID: lease), on: fixture.resource)
            #expect(outcome.isComplete && outcome.existed, "\(outcome)")
            #expect(await loginFailure(credential) == "28P01")
            let nothing = try await provider.revoke(LeaseCredential(leaseID: lease), on: fixture.resource)
            #expect(nothing.isComplete && !nothing.existed)
        }
    }

    @Test("a role named on the lease but without its comment is never dropped, whatever its name looks like",
          .timeLimit(.minutes(3)))
    func roleWithoutTheLeasesCommentIsLeftAlone() async throws {
        let fixture = try await TargetFixture.make()
        let lease = UUID()
        try await withProvider { provider in
            let someoneElses = try await Self.makeLogin(
                "airlock_readonly_\(Self.suffix())", lease: UUID(), fixture: fixture, provider: provider)
            let uncommented = try await Self.makeLogin(
                "airlock_readonly_\(Self.suffix())", lease: nil, fixture: fixture, provider: provider)
            for credential in [someoneElses, uncommented] {
                await #expect(performing: {
                    _ = try await provider.revoke(
                        LeaseCredential(leaseID: lease, username: credential.username), on: fixture.resource)
                }, throws: { ($0 as? ProviderError)?.code == "not_this_leases_login" })
                #expect(await loginFailure(credential) == nil)  // untouched: it still logs in
            }
            await #expect(throws: ProviderError.self) {
                _ = try await provider.revoke(LeaseCredential(leaseID: lease, username: "postgres"), on: fixture.resource)
            }
        }
    }

    @Test("renewal moves VALID UNTIL only of the login carrying the lease's comment", .timeLimit(.minutes(3)))
    func extendOnlyTheLeasesLogin() async throws {
        let fixture = try await TargetFixture.make()
        try await withProvider { provider in
            let lease = UUID()
            let credential = try await provider.mint(
                resource: fixture.resource, role: "readonly", leaseID: lease, validUntil: Self.expiry)
            func validUntil() async throws -> Date? {
                try await fixture.rows("SELECT rolvaliduntil FROM pg_roles WHERE rolname = \(credential.username)")
                    .first?.decode(Date?.self)
            }
            let before = try await validUntil()
            let later = Self.expiry.addingTimeInterval(600)
            await #expect(throws: ProviderError.self) {
                try await provider.extend(
                    LeaseCredential(leaseID: UUID(), username: credential.username), on: fixture.resource, until: later)
            }
            #expect(try await validUntil() == before)
            try await provider.extend(
                LeaseCredential(leaseID: lease, username: credential.username), on: fixture.resource, until: later)
            let after = try #require(try await validUntil())
            #expect(abs(after.timeIntervalSince(later)) < 0.001)
        }
    }
}
