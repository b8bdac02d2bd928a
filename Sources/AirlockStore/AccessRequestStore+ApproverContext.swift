import AirlockCore
import Foundation
import PostgresNIO

/// What an approver needs to judge a pending request beside its risk (issue 15, item 6).
public struct ApproverContext: Sendable, Hashable {
    /// One earlier grant of the same resource to the requester.
    public struct PastUse: Sendable, Hashable {
        public var requestID: UUID
        public var role: String
        public var at: Date
        public var ttlSeconds: Int?
    }

    /// People seen in the requester's groups, and how many of those were ever granted this resource, counted as the
    /// risk score counts them (`airlock_risk_peer_counts`: exactly in one group; in several, up to 1,000 people, the
    /// first by name, and the holders among them).
    public var peers: Int
    public var peersWithAccess: Int
    /// Whether the requester was never granted this resource before.
    public var firstUse: Bool
    /// The requester's latest grants of this resource (issued), newest first, at most 5.
    public var lastUses: [PastUse]
}

extension AccessRequestStore {
    /// The approver's context of `record`: its requester's peers (people sharing one of the groups recorded with the
    /// request) with and without this access, whether it is a first use, and the last uses, in one statement.
    public func approverContext(of record: AccessRequestRecord) async throws -> ApproverContext {
        let rows = try await database.client.query("""
            WITH requester AS (
                SELECT coalesce(array(SELECT jsonb_array_elements_text(r.evaluation_input->'principal'->'groups')),
                                '{}') AS groups
                FROM access_requests r WHERE r.id = \(record.id)
            ), counted AS (
                SELECT airlock_risk_peer_counts(\(record.principalID), requester.groups, \(record.resourceID)) AS counts
                FROM requester
            )
            SELECT coalesce((SELECT counts[1] FROM counted), 0)::int8, coalesce((SELECT counts[2] FROM counted), 0)::int8,
                   EXISTS (SELECT 1 FROM risk_grants g WHERE g.principal_id = \(record.principalID)
                           AND g.resource_id = \(record.resourceID)),
                   coalesce((SELECT jsonb_agg(jsonb_build_object('id', u.id, 'role', u.role,
                                     'at', extract(epoch FROM u.created_at), 'ttl', u.granted_ttl_seconds)
                                     ORDER BY u.created_at DESC)
                             FROM (SELECT id, role, created_at, granted_ttl_seconds FROM access_requests
                                   WHERE principal_id = \(record.principalID) AND resource_id = \(record.resourceID)
                                     AND status = 'issued' AND id <> \(record.id)
                                   ORDER BY created_at DESC LIMIT 5) AS u), '[]')::text
            """, logger: logger)
        for try await (peers, withAccess, used, uses) in rows.decode((Int64, Int64, Bool, String).self) {
            let lastUses = (try JSONValue.parse(uses).arrayValue ?? []).compactMap { use -> ApproverContext.PastUse? in
                guard let id = use["id"]?.stringValue.flatMap(UUID.init(uuidString:)), let role = use["role"]?.stringValue,
                      let epoch = use["at"]?.doubleValue ?? use["at"]?.intValue.map(Double.init)
                else { return nil }
                return ApproverContext.PastUse(
                    requestID: id, role: role, at: Date(timeIntervalSince1970: epoch),
                    ttlSeconds: use["ttl"]?.intValue.map(Int.init))
            }
            return ApproverContext(
                peers: Int(peers), peersWithAccess: Int(withAccess), firstUse: !used, lastUses: lastUses)
        }
        return ApproverContext(peers: 0, peersWithAccess: 0, firstUse: true, lastUses: [])
    }
}
