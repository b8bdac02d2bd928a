import AirlockCore
import Foundation
import PostgresNIO

extension AccessRequestStore {
    /// `principal`'s latest `limit` requests (1 to 200) of every status, newest first, with their reviews: the
    /// console's *My requests*.
    public func recent(of principal: String, limit: Int) async throws -> [AccessRequestRecord] {
        let limit = max(1, min(limit, 200))
        let query: PostgresQuery = """
            SELECT \(unescaped: AccessRequestRecord.columns) FROM access_requests r
            WHERE r.principal_id = \(principal) ORDER BY r.created_at DESC, r.id DESC LIMIT \(limit)
            """
        return try await database.client.withConnection { connection in
            var items: [AccessRequestRecord] = []
            for try await row in try await connection.query(query, logger: logger) {
                items.append(try AccessRequestRecord(row: row, reviews: []))
            }
            for index in items.indices { items[index].reviews = try await reviews(of: items[index].id, on: connection) }
            return items
        }
    }
}
