import AirlockCore
import Foundation
import Logging
import PostgresNIO

/// The end of one lease, as ``LeaseRevocationStore/finish(_:as:username:terminatedSessions:)`` records it.
struct LeaseEnd: Sendable {
    let lease: UUID
    let status: LeaseStatus
    let at: Date
    /// The login found on the target, if any.
    let username: String?
    /// Its events, stamped when it ended.
    let events: [AuditRow]
}

extension LeaseRevocationStore {
    /// Records `ends` in one statement: each lease still `revoking` becomes `expired` or `revoked`, its token row is
    /// revoked, and its events are appended; a lease another worker has taken since (no longer `revoking`) gets
    /// neither change nor events. The statement is all-or-nothing, so when the server refuses it (a constraint,
    /// say) each end is recorded alone, and only the one at fault fails.
    static func record(_ ends: [LeaseEnd], database: Database, logger: Logger) async -> [Result<Void, any Error>] {
        do {
            try await database.client.query(statement(ends), logger: logger)
            return ends.map { _ in .success(()) }
        } catch let error as PSQLError where ends.count > 1 && error.serverInfo != nil {
            var results: [Result<Void, any Error>] = []
            for end in ends {
                do {
                    try await database.client.query(statement([end]), logger: logger)
                    results.append(.success(()))
                } catch {
                    results.append(.failure(error))
                }
            }
            return results
        } catch {
            return ends.map { _ in .failure(error) }
        }
    }

    /// One statement of the same text for any number of ends: every value is bound, as arrays. The events keep
    /// their order (the chain links them in the order they were inserted).
    private static func statement(_ ends: [LeaseEnd]) -> PostgresQuery {
        let events = ends.flatMap { end in end.events.map { (end.lease, $0) } }
        return """
            WITH ending AS (
                SELECT * FROM unnest(\(ends.map(\.lease))::uuid[], \(ends.map(\.status.rawValue))::text[],
                    \(ends.map(\.at))::timestamptz[], \(ends.map { $0.username ?? "" })::text[])
                    AS e(id, status, at, username)
            ), lease AS (
                UPDATE leases l SET status = e.status, revoked_at = e.at, last_error = NULL, next_attempt_at = NULL,
                    claimed_by = NULL, username = coalesce(l.username, nullif(e.username, ''))
                FROM ending e
                WHERE l.id = e.id AND l.status = 'revoking'
                RETURNING l.id, e.at
            ), token AS (
                UPDATE api_tokens t SET revoked_at = lease.at
                FROM lease WHERE t.lease_id = lease.id AND t.revoked_at IS NULL
            )
            INSERT INTO audit_events (id, type, subject, severity, occurred_at, event)
            SELECT a.id, a.type, a.subject, a.severity, a.occurred_at, a.event
            FROM unnest(\(events.map(\.0))::uuid[], \(events.map(\.1.id))::uuid[], \(events.map(\.1.type))::text[],
                \(events.map(\.1.subject))::text[], \(events.map(\.1.severity))::text[],
                \(events.map(\.1.time))::timestamptz[], \(events.map(\.1.canonical))::text[])
                WITH ORDINALITY AS a(lease_id, id, type, subject, severity, occurred_at, event, position)
            WHERE a.lease_id IN (SELECT id FROM lease)
            ORDER BY a.position
            """
    }
}
