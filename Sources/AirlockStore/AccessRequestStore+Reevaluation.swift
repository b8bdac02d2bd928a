import AirlockCore
import Foundation
import PostgresNIO

/// What continuous evaluation reads and writes (issue 15, item 5): the inputs requests were decided on, the
/// approved requests not yet picked up, and the alert naming what a change ended.
extension AccessRequestStore {
    /// The policy input request `id` was decided on (`access_requests.evaluation_input`), or nil.
    public func evaluationInput(of id: UUID) async throws -> JSONValue? {
        let rows = try await database.client.query(
            "SELECT evaluation_input::text FROM access_requests WHERE id = \(id)", logger: logger)
        for try await text in rows.decode(String.self) { return try JSONValue.parse(text) }
        return nil
    }

    /// The ids of the approved requests not yet picked up, of `principal` (everyone's when nil), oldest first.
    public func approvedNotPickedUp(principal: String?) async throws -> [UUID] {
        let rows = try await database.client.query("""
            SELECT id FROM access_requests
            WHERE status = 'approved' AND (\(principal)::text IS NULL OR principal_id = \(principal))
            ORDER BY created_at, id
            """, logger: logger)
        var ids: [UUID] = []
        for try await id in rows.decode(UUID.self) { ids.append(id) }
        return ids
    }

    /// Appends `event` in a transaction of its own (an alert about work already recorded).
    public func recordAlert(_ event: NewAuditEvent) async throws {
        try await transaction { connection in
            _ = try await self.auditLog.append(event, on: connection, logger: self.logger)
        }
    }
}
