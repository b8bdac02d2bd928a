import AirlockCore
import AirlockServer
import AirlockStore
import AirlockTestSupport
import Foundation
import Logging
import PostgresNIO
import Testing

@Suite("alk_ API tokens on PostgreSQL", .timeLimit(.minutes(2)))
struct ApiTokenStoreTests {
    let logger = TestDatabase.logger

    func store(_ database: Database, _ clock: TestClock) -> ApiTokenStore {
        ApiTokenStore(database: database, auditLog: AuditLog(source: "urn:airlock:test", clock: clock), clock: clock)
    }

    @Test func createAuthenticateListRevoke() async throws {
        try await TestDatabase.withDatabase { database in
            let clock = TestClock()
            let tokens = store(database, clock)
            let (id, token) = try await tokens.create(
                name: "ci", scopes: ["admin", "auditor", "admin"], groups: ["deployers"], ttl: 3600, logger: logger)
            #expect(ApiTokenFormat.parse(token)?.prefix == .airlock)

            guard case .authenticated(let record) = try await tokens.authenticate(token, logger: logger) else {
                Issue.record("the new token does not authenticate")
                return
            }
            #expect(record.id == id)
            #expect(record.scopes == [.admin, .auditor])
            #expect(record.principal == Principal(
                id: "token:ci", kind: .service, groups: ["deployers"], scopes: ["admin", "auditor"],
                credential: .apiToken(audience: nil)))
            #expect(!record.principal.actsAsPrincipal)

            let listed = try await tokens.list(logger: logger)
            #expect(listed.map(\.id) == [id])
            #expect(listed[0].lastUsedAt == clock.now())

            #expect(try await tokens.revoke(id: id, logger: logger) == .revoked)
            #expect(try await tokens.revoke(id: id, logger: logger) == .alreadyRevoked)
            #expect(try await tokens.revoke(id: UUID(), logger: logger) == .notFound)
            #expect(try await tokens.authenticate(token, logger: logger) == .revoked)
        }
    }

    @Test func onlyTheHashIsStoredAndAuditEventsHoldNoSecret() async throws {
        try await TestDatabase.withDatabase { database in
            let tokens = store(database, TestClock())
            let (id, token) = try await tokens.create(name: "", scopes: ["service"], logger: logger)
            try await tokens.revoke(id: id, logger: logger)

            let rows = try await database.client.query(
                "SELECT token_hash, name FROM api_tokens WHERE id = \(id)", logger: logger)
            for try await (hash, name) in rows.decode((Data, String).self) {
                #expect(Array(hash) == ApiTokenFormat.hash(token))
                #expect(name == "")
            }
            var types: [String] = []
            for (type, event) in try await AuditReader.events(in: database).map({ ($0.type, $0.event) }) {
                types.append(type)
                #expect(!event.contains(token))
                #expect(!event.contains(String(token.dropFirst(4).prefix(20))))
                #expect(!event.contains(Digest.hex(ApiTokenFormat.hash(token))))
                #expect(event.contains(id.uuidString.lowercased()))
            }
            #expect(types == ["airlock.token.created", "airlock.token.revoked"])
        }
    }

    @Test func expiredAndUnknownTokens() async throws {
        try await TestDatabase.withDatabase { database in
            let clock = TestClock()
            let tokens = store(database, clock)
            let (_, token) = try await tokens.create(name: "short", scopes: ["introspect"], ttl: 60, logger: logger)
            guard case .authenticated = try await tokens.authenticate(token, logger: logger) else {
                Issue.record("the new token does not authenticate")
                return
            }
            clock.advance(60)
            #expect(try await tokens.authenticate(token, logger: logger) == .expired)
            #expect(try await tokens.authenticate(ApiTokenFormat.generate(prefix: .airlock), logger: logger) == .unknown)
            #expect(try await tokens.authenticate("alk_nonsense", logger: logger) == .unknown)
        }
    }

    @Test func lastUsedIsWrittenAtMostOnceAMinute() async throws {
        try await TestDatabase.withDatabase { database in
            let clock = TestClock()
            let tokens = store(database, clock)
            let (_, token) = try await tokens.create(name: "busy", scopes: ["service"], logger: logger)
            let first = clock.now()
            _ = try await tokens.authenticate(token, logger: logger)
            clock.advance(59)
            _ = try await tokens.authenticate(token, logger: logger)
            #expect(try await tokens.list(logger: logger)[0].lastUsedAt == first)
            clock.advance(1)
            _ = try await tokens.authenticate(token, logger: logger)
            #expect(try await tokens.list(logger: logger)[0].lastUsedAt == clock.now())
        }
    }

    @Test func scopesAndTTLAreValidated() async throws {
        try await TestDatabase.withDatabase { database in
            let tokens = store(database, TestClock())
            await #expect(throws: StoreError.self) {
                try await tokens.create(name: "x", scopes: ["approver"], logger: logger)
            }
            await #expect(throws: StoreError.self) { try await tokens.create(name: "x", scopes: [], logger: logger) }
            await #expect(throws: StoreError.self) {
                try await tokens.create(name: "x", scopes: ["admin"], ttl: 0, logger: logger)
            }
            let remaining = try await tokens.list(logger: logger)
            #expect(remaining.isEmpty)
        }
    }
}
