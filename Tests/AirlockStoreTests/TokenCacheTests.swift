import AirlockCore
import AirlockPolicy
import AirlockStore
import AirlockTestSupport
import Foundation
import PostgresNIO
import ServiceLifecycle
import Testing

/// Token caches answer only while every token change reaches them.
@Suite("Token caches", .timeLimit(.minutes(2)))
struct TokenCacheTests {
    let logger = Support.logger

    @Test("not live: no answers and nothing stored; a clear between read and store wins; entries age out")
    func rules() async throws {
        let cache = TokenCache<String>(maximumAge: .milliseconds(200))
        let hash = Data([1, 2, 3])
        cache.store("x", for: hash, generation: cache.generation)
        #expect(cache.value(for: hash) == nil)
        cache.setLive(true)
        #expect(cache.value(for: hash) == nil)
        let before = cache.generation
        cache.clear()
        cache.store("stale", for: hash, generation: before)
        #expect(cache.value(for: hash) == nil)
        cache.store("fresh", for: hash, generation: cache.generation)
        #expect(cache.value(for: hash) == "fresh")
        try await Task.sleep(for: .milliseconds(250))
        #expect(cache.value(for: hash) == nil)
        cache.store("again", for: hash, generation: cache.generation)
        cache.setLive(false)
        #expect(cache.value(for: hash) == nil)
    }

    /// Runs `body` with a ``TokenChangeListener`` on `database` feeding `caches`, once it listens.
    func withListener(
        _ database: Database, _ caches: TokenCaches, heartbeat: Duration = .seconds(5),
        _ body: @Sendable () async throws -> Void
    ) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                try await TokenChangeListener(database: database, caches: caches, logger: logger, heartbeatInterval: heartbeat).run()
            }
            defer { group.cancelAll() }
            let probe = Data([9])
            for _ in 0..<200 {  // live once a stored entry sticks
                caches.apiTokens.store(ApiTokenRecord.probe, for: probe, generation: caches.apiTokens.generation)
                if caches.apiTokens.value(for: probe) != nil { break }
                try await Task.sleep(for: .milliseconds(20))
            }
            #expect(caches.apiTokens.value(for: probe) != nil, "the listener never went live")
            try await body()
        }
    }

    /// Whether the caches answer: a stored probe sticks only while the listener listens.
    static func isLive(_ caches: TokenCaches) -> Bool {
        let probe = Data([7])
        caches.apiTokens.store(ApiTokenRecord.probe, for: probe, generation: caches.apiTokens.generation)
        return caches.apiTokens.value(for: probe) != nil
    }

    @Test("when the listening connection dies, the caches go off and come back once it listens again")
    func listenerLoss() async throws {
        try await TestDatabase.withDatabase { database in
            let caches = TokenCaches()
            try await withListener(database, caches, heartbeat: .milliseconds(200)) {
                #expect(Self.isLive(caches))
                try await database.client.query("""
                    SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                    WHERE datname = current_database() AND query LIKE 'LISTEN%' AND pid <> pg_backend_pid()
                    """, logger: logger)
                var wentOff = false
                for _ in 0..<100 where !wentOff {
                    wentOff = !Self.isLive(caches)
                    if !wentOff { try await Task.sleep(for: .milliseconds(20)) }
                }
                #expect(wentOff, "the caches kept answering without a listener")
                var back = false
                for _ in 0..<1000 where !back {  // at most 20 s: a reconnect on a loaded machine
                    try await Task.sleep(for: .milliseconds(20))
                    back = Self.isLive(caches)
                }
                #expect(back, "the listener did not come back")
            }
        }
    }

    @Test("a token revoked elsewhere (another broker, the CLI) is refused once the change is notified")
    func revokedElsewhere() async throws {
        try await TestDatabase.withDatabase { database in
            let caches = TokenCaches()
            let audit = AuditLog(source: "/airlock/test")
            let cached = ApiTokenStore(database: database, auditLog: audit, caches: caches)
            let elsewhere = ApiTokenStore(database: database, auditLog: audit)
            let (id, token) = try await elsewhere.create(name: "svc", scopes: ["service"], logger: logger)
            try await withListener(database, caches) {
                guard case .authenticated = try await cached.authenticate(token, logger: logger) else {
                    Issue.record("a fresh token must authenticate")
                    return
                }
                // Cached now: even a deleted row would still answer, until the change is heard.
                #expect(try await elsewhere.revoke(id: id, logger: logger) == .revoked)
                var outcome = try await cached.authenticate(token, logger: logger)
                for _ in 0..<100 where outcome != .revoked {
                    try await Task.sleep(for: .milliseconds(10))
                    outcome = try await cached.authenticate(token, logger: logger)
                }
                #expect(outcome == .revoked)
            }
        }
    }

    @Test("a revocation through the caching store is refused on the very next use")
    func revokedHere() async throws {
        try await TestDatabase.withDatabase { database in
            let caches = TokenCaches()
            let store = ApiTokenStore(database: database, auditLog: AuditLog(source: "/airlock/test"), caches: caches)
            let (id, token) = try await store.create(name: "svc", scopes: ["service"], logger: logger)
            try await withListener(database, caches) {
                _ = try await store.authenticate(token, logger: logger)
                _ = try await store.authenticate(token, logger: logger)
                #expect(try await store.revoke(id: id, logger: logger) == .revoked)
                #expect(try await store.authenticate(token, logger: logger) == .revoked)
            }
        }
    }

    @Test("an introspected token goes inactive when its lease leaves active, and at its expiry")
    func credentialTokens() async throws {
        try await TestDatabase.withDatabase { database in
            let caches = TokenCaches()
            let clock = TestClock(Date())
            let tokens = CredentialTokenStore(database: database, clock: clock, caches: caches, logger: logger)
            let requests = AccessRequestStore(
                database: database, auditLog: AuditLog(source: "/airlock/test", clock: clock), clock: clock, logger: logger)
            let leases = LeaseStore(requests: requests)
            let api = Resource(id: "payments-api", kind: .token, env: "prod", owner: "payments", sensitivity: 6,
                               audience: "payments-api", roles: ["read": RoleTemplate(name: "read", scopes: ["payments:read"])])
            let permit = Decision(outcome: .permit, ttlSeconds: 600, rules: ["p"])
            let ci = Principal(id: "ci", kind: .service, groups: ["ci"])
            func issue() async throws -> CredentialToken {
                let id = try await requests.createReturningID(
                    NewAccessRequest(principal: ci, resourceID: "payments-api", role: "read", ttlSeconds: 600, reason: ""),
                    resource: api, decision: permit, evaluationInput: [:], policySetID: nil)
                let intent = try await leases.begin(id, by: ci, issuable: ["payments-api": .token])
                let token = try CredentialToken.mint(
                    resource: api, role: "read", subject: "ci", leaseID: intent.lease, expiresAt: intent.expiresAt)
                try await leases.activate(intent, credential: MintedCredential(
                    leaseID: intent.lease, expiresAt: intent.expiresAt, token: token, secretFields: [:]))
                return token
            }
            let first = try await issue()
            let second = try await issue()
            try await withListener(database, caches) {
                #expect(try await tokens.active(first.secret)?.leaseID == first.leaseID)
                #expect(try await tokens.active(second.secret)?.scopes == ["payments:read"])
                try await database.client.query(
                    "UPDATE leases SET status = 'revoking' WHERE id = \(first.leaseID)", logger: logger)
                var active = try await tokens.active(first.secret)
                for _ in 0..<100 where active != nil {
                    try await Task.sleep(for: .milliseconds(10))
                    active = try await tokens.active(first.secret)
                }
                #expect(active == nil)
                #expect(try await tokens.active(second.secret) != nil)
                clock.advance(601)  // cached or not, an expired token is inactive
                #expect(try await tokens.active(second.secret) == nil)
            }
        }
    }
}

extension ApiTokenRecord {
    static let probe = ApiTokenRecord(
        id: UUID(), name: "probe", scopes: [], groups: [], createdAt: Date(), expiresAt: nil, lastUsedAt: nil,
        revokedAt: nil)
}
