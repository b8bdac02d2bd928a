import AirlockCore
import AirlockStore
import AirlockTestSupport
import Foundation
import PostgresNIO
import Testing

/// The outbox of issue 14 on PostgreSQL: a delivery row for every audit event an active endpoint's filters select,
/// written in the event's own transaction, and endpoints whose key is sealed and never recorded.
@Suite("Webhook outbox on PostgreSQL", .timeLimit(.minutes(2)))
struct WebhookOutboxTests {
    let logger = Support.logger

    func store(_ database: Database) -> WebhookStore {
        WebhookStore(
            database: database, auditLog: Support.auditLog,
            keys: DataKeyStore(database: database, keyRing: KeyRing(current: .generate())))
    }

    func endpoint(
        _ url: String, types: [String] = [], channels: [String] = [], severity: Severity = .info
    ) -> WebhookEndpoint {
        WebhookEndpoint(
            id: UUID(), url: url, eventTypes: types, channels: channels, minimumSeverity: severity, createdAt: Date(),
            createdBy: "token:root")
    }

    /// Appends `event` in its own transaction (rolled back when `commit` is false) and returns its id.
    @discardableResult
    func append(_ event: NewAuditEvent, in database: Database, commit: Bool = true) async throws -> UUID {
        struct RolledBack: Error { let id: UUID }
        do {
            return try await database.client.withTransaction(logger: logger) { connection in
                let id = try await Support.auditLog.append(event, on: connection, logger: logger)
                if !commit { throw RolledBack(id: id) }
                return id
            }
        } catch let error as PostgresTransactionError {
            guard let rolledBack = error.closureError as? RolledBack else { throw error }
            return rolledBack.id
        }
    }

    /// The events queued for `endpoint`, as (event id) in queue order.
    func queued(for endpoint: UUID, in database: Database) async throws -> [UUID] {
        let rows = try await database.client.query(
            "SELECT event_id FROM webhook_deliveries WHERE endpoint_id = \(endpoint) AND status = 'pending' ORDER BY id",
            logger: logger)
        var ids: [UUID] = []
        for try await id in rows.decode(UUID.self) { ids.append(id) }
        return ids
    }

    @Test("each event is queued for exactly the endpoints whose filters all select it, in the event's transaction")
    func filters() async throws {
        try await TestDatabase.withDatabase { database in
            let webhooks = store(database)
            let key = WebhookSecret.generate().bytes
            let all = try await webhooks.add(endpoint("https://all.example/hook"), signingKey: key, logger: logger)
            let credentials = try await webhooks.add(
                endpoint("https://creds.example/hook", types: ["airlock.credential."]), signingKey: key, logger: logger)
            let security = try await webhooks.add(
                endpoint("https://sec.example/hook", channels: ["security"]), signingKey: key, logger: logger)
            let urgent = try await webhooks.add(
                endpoint("https://pager.example/hook", types: ["airlock.credential.revocation_failed", "airlock.access."],
                         severity: .high),
                signingKey: key, logger: logger)
            let removed = try await webhooks.add(endpoint("https://old.example/hook"), signingKey: key, logger: logger)
            #expect(try await webhooks.remove(removed.id, by: "token:root", logger: logger))
            #expect(try await webhooks.list(logger: logger).map(\.id) == [all.id, credentials.id, security.id, urgent.id])
            let before = try await queued(for: all.id, in: database)  // the endpoints' own creation events

            let issued = try await append(
                NewAuditEvent(type: "airlock.credential.issued", subject: "l1", channels: ["ops"]), in: database)
            let failed = try await append(
                NewAuditEvent(type: "airlock.credential.revocation_failed", subject: "l2", severity: .high,
                              channels: ["security", "ops"]), in: database)
            let denied = try await append(
                NewAuditEvent(type: "airlock.access.denied", subject: "r1", severity: .medium, channels: ["security"]),
                in: database)
            let breakGlass = try await append(
                NewAuditEvent(type: "airlock.access.approved", subject: "r2", severity: .critical), in: database)
            try await append(
                NewAuditEvent(type: "airlock.credential.issued", subject: "rolled-back"), in: database, commit: false)

            #expect(try await queued(for: all.id, in: database) == before + [issued, failed, denied, breakGlass])
            #expect(try await queued(for: credentials.id, in: database) == [issued, failed])
            #expect(try await queued(for: security.id, in: database) == [failed, denied])
            #expect(try await queued(for: urgent.id, in: database) == [failed, breakGlass])
            #expect(try await queued(for: removed.id, in: database).isEmpty)
            // Nothing was queued for the rolled-back event, and no delivery names an event that is not stored.
            let orphans = try await database.client.query(
                """
                SELECT count(*)::int8 FROM webhook_deliveries d
                WHERE NOT EXISTS (SELECT 1 FROM audit_events a WHERE a.id = d.event_id)
                """, logger: logger)
            for try await count in orphans.decode(Int64.self) { #expect(count == 0) }
        }
    }

    @Test("an endpoint's key is stored sealed and appears in no audit event; removing it drops what it had not received")
    func sealedAndRemoved() async throws {
        try await TestDatabase.withDatabase { database in
            let webhooks = store(database)
            let secret = WebhookSecret.generate()
            let added = try await webhooks.add(
                endpoint("https://siem.example/hook"), signingKey: secret.bytes, logger: logger)
            try await append(NewAuditEvent(type: "airlock.access.requested", subject: "r1"), in: database)
            #expect(try await queued(for: added.id, in: database).count == 2)  // its creation, then the request

            var stored: [Data] = []
            for try await bytes in try await database.client.query(
                "SELECT secret FROM webhook_endpoints WHERE id = \(added.id)", logger: logger).decode(Data.self)
            { stored.append(bytes) }
            let sealed = try #require(stored.first)
            #expect(sealed.range(of: Data(secret.bytes)) == nil, "the key is stored in clear")
            let events = try await AuditReader.events(in: database)
            for event in events {
                #expect(!event.event.contains(secret.text) && !event.event.contains(String(secret.text.dropFirst(6))))
            }
            let created = try #require(events.first { $0.type == "airlock.webhook.created" })
            #expect(created.subject == added.id.uuidString.lowercased() && created.severity == "medium")

            #expect(try await webhooks.remove(added.id, by: "token:root", logger: logger))
            #expect(try await queued(for: added.id, in: database).isEmpty)
            #expect(try await webhooks.remove(added.id, by: "token:root", logger: logger) == false)
            #expect(try await webhooks.get(added.id, logger: logger) == nil)
            let deleted = try #require(try await AuditReader.events(in: database).last)
            #expect(deleted.type == "airlock.webhook.deleted" && deleted.event.contains(#""undelivered_dropped":2"#))
        }
    }

    @Test("audit events name an endpoint by its origin only: a capability in its path or query reaches no event")
    func urlCapabilityNotAudited() async throws {
        try await TestDatabase.withDatabase { database in
            let webhooks = store(database)
            let added = try await webhooks.add(
                endpoint("https://hooks.example.com:8443/services/T0/B0/pathcapability?token=querycapability"),
                signingKey: WebhookSecret.generate().bytes, logger: logger)
            #expect(try await webhooks.remove(added.id, by: "token:root", logger: logger))
            let events = try await AuditReader.events(in: database)
            #expect(events.map(\.type) == ["airlock.webhook.created", "airlock.webhook.deleted"])
            for event in events {
                #expect(!event.event.contains("pathcapability") && !event.event.contains("querycapability"), "\(event.event)")
                #expect(event.event.contains(#""url":"https://hooks.example.com:8443/…""#), "\(event.event)")
            }
        }
    }
}
