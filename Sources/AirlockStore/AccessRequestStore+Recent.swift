import AirlockCore
import Foundation
import PostgresNIO

extension AccessRequestStore {
    /// `principal`'s latest `limit` requests (1 to 200) of every status, newest first, without their reviews: the
    /// console's *My requests* and its status poll (every two seconds while the page is open), which show neither.
    public func recent(of principal: String, limit: Int) async throws -> [AccessRequestRecord] {
        let limit = max(1, min(limit, 200))
        let rows = try await database.client.query("""
            SELECT \(unescaped: AccessRequestRecord.columns) FROM access_requests r
            WHERE r.principal_id = \(principal) ORDER BY r.created_at DESC, r.id DESC LIMIT \(limit)
            """, logger: logger)
        var items: [AccessRequestRecord] = []
        for try await row in rows { items.append(try AccessRequestRecord(row: row, reviews: [])) }
        return items
    }
}
