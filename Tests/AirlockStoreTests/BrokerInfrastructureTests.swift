import AirlockCore
import AirlockPostgres
import AirlockStore
import AirlockTestSupport
import Foundation
import PostgresNIO
import Testing

/// Issue 10, items 7 and 16, below the HTTP layer: the unknown-token cache, a revoker's switch-off of a broker's
/// caches, and the bounded known-members lookup.
@Suite("Broker infrastructure", .timeLimit(.minutes(2)))
struct BrokerInfrastructureTests {
    let logger = Support.logger

    /// Runs `body` with a ``TokenChangeListener`` feeding `caches`, once the caches answer.
    func withListener(
        _ database: Database, _ caches: TokenCaches, heartbeat: Duration = .seconds(1),
        _ body: @Sendable (_ brokerID: UUID) async throws -> Void
    ) async throws {
        let listener = TokenChangeListener(database: database, caches: caches, logger: logger, heartbeatInterval: heartbeat)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await listener.run() }
            defer { group.cancelAll() }
            for _ in 0..<200 where !Self.answers(caches) { try await Task.sleep(for: .milliseconds(20)) }
            #expect(Self.answers(caches), "the listener never went live")
            try await body(listener.brokerID)
        }
    }

    /// Whether the caches answer: a stored probe sticks only while they do.
    static func answers(_ caches: TokenCaches) -> Bool {
        let probe = Data([7])
        caches.apiTokens.store(ApiTokenRecord.probe, for: probe, generation: caches.apiTokens.generation)
        return caches.apiTokens.value(for: probe) != nil
    }

    @Test("an unknown alk_ token costs one lookup, not one per try; a token created later works at once")
    func unknownTokens() async throws {
        do {
            try await unknownTokensBody()
        } catch {
            // PSQLError's description says nothing: record the server's message and SQLSTATE (no secrets here).
            Issue.record("\(describeDatabaseError(error))")
        }
    }

    func unknownTokensBody() async throws {
        try await TestDatabase.withDatabase { database in
            let caches = TokenCaches()
            let store = ApiTokenStore(database: database, auditLog: AuditLog(source: "/airlock/test"), caches: caches)
            let token = ApiTokenFormat.generate(prefix: .airlock)
            try await withListener(database, caches) { _ in
                #expect(try await store.authenticate(token, logger: logger) == .unknown)
                // With the table out of reach, a lookup would fail: the second try must not look.
                try await database.client.query("ALTER TABLE api_tokens RENAME TO api_tokens_away", logger: logger)
                let again: ApiTokenStore.Authentication
                do {
                    again = try await store.authenticate(token, logger: logger)
                } catch {
                    try await database.client.query("ALTER TABLE api_tokens_away RENAME TO api_tokens", logger: logger)
                    throw error
                }
                try await database.client.query("ALTER TABLE api_tokens_away RENAME TO api_tokens", logger: logger)
                #expect(again == .unknown)

                // The very token appears (as a create elsewhere would write it): the notification makes it work.
                let hash = Data(ApiTokenFormat.hash(token))
                try await database.client.query("""
                    INSERT INTO api_tokens (id, kind, name, token_hash, scopes, created_at)
                    VALUES (\(UUID()), 'airlock', 'late', \(hash), ARRAY['admin'], now())
                    """, logger: logger)
                var outcome = try await store.authenticate(token, logger: logger)
                for _ in 0..<100 where outcome == .unknown {
                    try await Task.sleep(for: .milliseconds(20))
                    outcome = try await store.authenticate(token, logger: logger)
                }
                guard case .authenticated = outcome else {
                    Issue.record("a token created after it was tried stayed unknown: \(outcome)")
                    return
                }
            }
        }
    }

    @Test("the unknown-token cache is bounded")
    func unknownTokensAreBounded() {
        let caches = TokenCaches(unknownCapacity: 3)
        caches.unknownApiTokens.setLive(true)
        for byte in UInt8(0)..<10 {
            caches.unknownApiTokens.store(UnknownToken(), for: Data([byte]), generation: caches.unknownApiTokens.generation)
        }
        let kept = (UInt8(0)..<10).filter { caches.unknownApiTokens.value(for: Data([$0])) != nil }
        #expect(kept.count <= 3 && kept.contains(9), "\(kept)")
    }

    @Test("a revoker's switch-off stops a broker's caches until it acknowledges a later barrier")
    func switchOff() async throws {
        try await TestDatabase.withDatabase { database in
            let caches = TokenCaches()
            try await withListener(database, caches, heartbeat: .milliseconds(100)) { brokerID in
                try await database.client.query(
                    "INSERT INTO token_change_barriers (nonce) VALUES (\(UUID()))", logger: logger)
                try await database.client.query("""
                    UPDATE broker_instances SET caches_off_until = (SELECT max(id) FROM token_change_barriers)
                    WHERE id = \(brokerID)
                    """, logger: logger)
                var off = false
                for _ in 0..<500 where !off {  // at most 10 s: heartbeats run late on a loaded machine
                    try await Task.sleep(for: .milliseconds(20))
                    off = !Self.answers(caches)
                }
                #expect(off, "the broker did not switch its caches off")

                // A barrier it processes (a later revocation) lifts the switch-off.
                let nonce = UUID()
                try await database.client.query(
                    "INSERT INTO token_change_barriers (nonce) VALUES (\(nonce))", logger: logger)
                try await database.client.query(
                    "SELECT pg_notify('airlock_token_changes', \("sync " + nonce.uuidString.lowercased()))", logger: logger)
                var back = false
                for _ in 0..<1500 where !back {  // at most 30 s: a loaded machine delays the listener's catch-up
                    try await Task.sleep(for: .milliseconds(20))
                    back = Self.answers(caches)
                }
                #expect(back, "the caches stayed off after the broker caught up")
                // A nonce that names no barrier (a forged notification) acknowledges nothing.
                let before = try await Self.acknowledged(brokerID, database)
                try await database.client.query(
                    "SELECT pg_notify('airlock_token_changes', \("sync " + UUID().uuidString.lowercased()))", logger: logger)
                try await Task.sleep(for: .milliseconds(200))
                #expect(try await Self.acknowledged(brokerID, database) == before)
            }
        }
    }

    static func acknowledged(_ id: UUID, _ database: Database) async throws -> Int64 {
        let rows = try await database.client.query(
            "SELECT acknowledged FROM broker_instances WHERE id = \(id)", logger: Support.logger)
        var value: Int64 = -1
        for try await acknowledged in rows.decode(Int64.self) { value = acknowledged }
        return value
    }

    @Test("known members: at most the limit per group, from an index, whatever the number of reviews")
    func knownMembersAreBounded() async throws {
        try await TestDatabase.withDatabase { database in
            let requestID = UUID()
            try await database.client.query("""
                INSERT INTO resources (id, kind, env) VALUES ('r', 'postgres', 'prod') ON CONFLICT DO NOTHING
                """, logger: logger)
            try await database.client.query("""
                INSERT INTO access_requests (id, principal_id, principal_kind, resource_id, role, ttl_seconds, status,
                                             decision, evaluation_input, created_at)
                VALUES (\(requestID), 'requester', 'user', 'r', 'readonly', 60, 'denied', '{}'::jsonb, '{}'::jsonb, now())
                """, logger: logger)
            let limit = AccessRequestStore.knownMembersLimit
            for index in 0..<(limit + 10) {
                let approver = String(format: "member-%03d", index)
                try await database.client.query("""
                    INSERT INTO approvals (id, request_id, approver_id, approver_kind, verdict, groups, created_at)
                    VALUES (\(UUID()), \(requestID), \(approver), 'user', 'approve', ARRAY['dba', 'security'], now())
                    """, logger: logger)
            }
            let store = AccessRequestStore(database: database, auditLog: AuditLog(source: "/airlock/test"), logger: logger)
            let members = try await store.knownMembers(of: ["dba", "nobody", "dba"])
            #expect(members["dba"]?.count == limit)
            #expect(members["dba"]?.first == "member-000")
            #expect(members["dba"] == members["dba"]?.sorted())
            #expect(members["nobody"] == nil)
            #expect(members["security"] == nil)
        }
    }
}
