import AirlockCore
import AirlockPolicy
import Foundation
import Logging
import PostgresNIO

/// A stored request as the policy saw it: the input it was decided on and the decision it got.
public struct DecidedRequest: Sendable, Hashable {
    /// The request id.
    public var id: UUID
    /// The requester's principal id.
    public var principalID: String
    /// The resource id.
    public var resourceID: String
    /// The role template asked for.
    public var role: String
    /// When the request was made.
    public var createdAt: Date
    /// The decision it got.
    public var decision: Decision
    /// The complete policy input (`access_requests.evaluation_input`), as JSON text.
    public var evaluationInput: String
}

/// Past requests, newest first, read in pages for `airlock policy replay`: keyset pagination on
/// `(created_at, id)`, so a page costs the same however deep into the history it is and no more than one page
/// is held in memory.
public struct AccessRequestHistory: Sendable {
    /// The database.
    public let database: Database
    /// The logger.
    public let logger: Logger

    /// Creates a reader.
    public init(database: Database, logger: Logger) {
        self.database = database
        self.logger = logger
    }

    /// At most `limit` requests made at or after `since`, newest first, starting after (older than) the
    /// request `after`, which is the last id of the previous page (nil for the first page).
    public func page(since: Date, after: UUID?, limit: Int) async throws -> [DecidedRequest] {
        let limit = max(1, min(limit, 5000))  // as forEachPage clamps its page size
        var query: PostgresQuery = """
            SELECT r.id, r.principal_id, r.resource_id, r.role, r.created_at, r.decision::text,
                   r.evaluation_input::text
            FROM access_requests r WHERE r.created_at >= \(since)
            """
        if let after {
            query.sql += " AND (r.created_at, r.id) < (SELECT a.created_at, a.id FROM access_requests a WHERE a.id = $\(query.binds.count + 1))"
            query.binds.append(after)
        }
        query.sql += " ORDER BY r.created_at DESC, r.id DESC LIMIT \(limit)"
        let rows = try await database.client.query(query, logger: logger)
        var result: [DecidedRequest] = []
        for try await (id, principal, resource, role, createdAt, decision, input)
            in rows.decode((UUID, String, String, String, Date, String, String).self) {
            let parsed: Decision
            do {
                parsed = try Decision(stored: JSONValue.parse(decision))
            } catch {
                throw StoreError(code: "corrupt_row", message: "access request `\(id)` has an unreadable decision")
            }
            result.append(DecidedRequest(
                id: id, principalID: principal, resourceID: resource, role: role, createdAt: createdAt,
                decision: parsed, evaluationInput: input))
        }
        return result
    }

    /// Calls `body` with every page of requests made at or after `since`, newest first, `pageSize` at a time;
    /// stops after `limit` requests in all, when given.
    public func forEachPage(
        since: Date, limit: Int? = nil, pageSize: Int = 500, _ body: ([DecidedRequest]) async throws -> Void
    ) async throws {
        let pageSize = max(1, min(pageSize, 5000))
        var remaining = limit ?? Int.max
        var cursor: UUID?
        while remaining > 0 {
            let wanted = min(pageSize, remaining)
            let page = try await page(since: since, after: cursor, limit: wanted)
            if page.isEmpty { return }
            try await body(page)
            if page.count < wanted { return }
            remaining -= page.count
            cursor = page.last?.id
        }
    }
}
