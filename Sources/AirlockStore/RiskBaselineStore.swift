import AirlockCore
import Foundation
import Logging
import PostgresNIO

/// Reads a principal's risk baseline (migrations 0015 and 0019, kept by trigger in the transaction of each request and
/// decision) in one round trip, every part from an index: the counters, the window's requests and those at the
/// request's hour of the week, the request's network, whether the resource was granted before, the requests in the
/// burst window, and the peers.
public struct RiskBaselineStore: Sendable {
    public let database: Database
    public let logger: Logger

    /// At most this many peers are counted per request (the people seen in the principal's groups).
    public static let peerLimit = 1000

    public init(database: Database, logger: Logger) {
        self.database = database
        self.logger = logger
    }

    /// What the baseline is read for: one request, and the windows that apply.
    public struct Query: Sendable {
        public var principal: String
        public var groups: [String]
        public var resource: String
        public var sourceIP: String?
        public var at: Date
        /// The start of the hour-of-week history, and the request's hour of the week (0–167, ``HourOfWeek``).
        public var hoursSince: Date
        public var hourOfWeek: Int
        /// The burst window's length.
        public var burstWindowSeconds: Int64
        /// The role asked for, and the start of the window its earlier activations are counted in.
        public var role: String
        public var activationsSince: Date

        public init(
            principal: String, groups: [String], resource: String, sourceIP: String?, at: Date, hoursSince: Date,
            hourOfWeek: Int, burstWindowSeconds: Int64, role: String = "", activationsSince: Date? = nil
        ) {
            self.role = role
            self.activationsSince = activationsSince ?? at
            self.principal = principal
            self.groups = groups
            self.resource = resource
            self.sourceIP = sourceIP
            self.at = at
            self.hoursSince = hoursSince
            self.hourOfWeek = hourOfWeek
            self.burstWindowSeconds = burstWindowSeconds
        }
    }

    /// The usual request rate of a principal is judged over at least this long, so a newcomer's first minutes are
    /// not their usual pace.
    static let shortestHistory: TimeInterval = 7 * 86_400

    /// `query.principal`'s baseline before the request (which is not recorded yet).
    public func baseline(_ query: Query) async throws -> PrincipalBaseline {
        try await assessmentInputs(query).baseline
    }

    /// `query.principal`'s baseline and the external signals active for them at `query.at` (without their free-text
    /// detail, which the score never reads), in one round trip.
    public func assessmentInputs(_ query: Query) async throws -> (baseline: PrincipalBaseline, signals: [ExternalSignal]) {
        let burstSince = query.at.addingTimeInterval(-TimeInterval(query.burstWindowSeconds))
        let rows = try await database.client.execute(RiskBaselineQuery(
            principal: query.principal, resource: query.resource, burstSince: burstSince,
            activationsSince: query.activationsSince, at: query.at, role: query.role, hoursSince: query.hoursSince,
            sourceIP: query.sourceIP, groups: query.groups, hourOfWeek: query.hourOfWeek), logger: logger)
        var baseline = PrincipalBaseline.newcomer
        var signals: [ExternalSignal] = []
        for row in rows.rows {
            let (first, requests, streak, highest, level, hourTotal, atHour, network, lastSeen, used, recent, peers,
                 withAccess, activations, active) = row
            baseline.riskLevel = level.flatMap(RiskLevel.init(rawValue:)) ?? .low
            signals = Self.signals(active, principal: query.principal)
            baseline.activations = Int(activations)
            baseline.hourOfWeek = HourOfWeekCounts(
                total: Int(hourTotal), byHour: atHour > 0 ? [query.hourOfWeek: Int(atHour)] : [:])
            if let network, let lastSeen { baseline.networks[network] = lastSeen }
            if used { baseline.resourcesUsed = [query.resource] }
            baseline.highestSensitivity = highest.map(Int.init)
            baseline.denialStreak = Int(streak)
            baseline.requests = Int(requests)
            baseline.recentRequests = Int(recent)
            if let first {
                let span = max(query.at.timeIntervalSince(first), Self.shortestHistory)
                baseline.usualRequests = Double(requests) / span * Double(query.burstWindowSeconds)
            }
            baseline.peers = Int(peers)
            baseline.peersWithAccess = Int(withAccess)
        }
        return (baseline, signals)
    }

    /// The active signals as the baseline statement aggregates them.
    static func signals(_ text: String, principal: String) -> [ExternalSignal] {
        guard let items = try? JSONValue.parse(text).arrayValue else { return [] }
        return items.compactMap { item in
            func time(_ key: String) -> Date? {
                (item[key]?.doubleValue ?? item[key]?.intValue.map(Double.init)).map(Date.init(timeIntervalSince1970:))
            }
            guard let id = item["id"]?.stringValue.flatMap(UUID.init(uuidString:)), let name = item["signal"]?.stringValue,
                  let severity = item["severity"]?.stringValue.flatMap(Severity.init(rawValue:)),
                  let source = item["source"]?.stringValue, let received = time("received_at"),
                  let expires = time("expires_at")
            else { return nil }
            return ExternalSignal(
                id: id, principal: principal, name: name, severity: severity, detail: nil, source: source,
                receivedAt: received, expiresAt: expires)
        }
    }
}

/// The baseline read, prepared once per connection (it runs before every decision): planning it each time cost as
/// much as running it (about 0.5 ms each). Every part is one index range (migration 0019): the hours of the week are
/// at most 13 weekly rows, of which it sums the total and the request's hour; the peers with this access are the
/// range of `risk_group_grants` for the principal's groups and the resource; the repeated activations an index of
/// issued requests. Written so that the generic plan PostgreSQL may settle on after a few executions keeps to them.
struct RiskBaselineQuery: PostgresPreparedStatement {
    static let name = "airlock_risk_baseline_v4"
    static let sql = """
        SELECT b.first_request_at, coalesce(b.requests, 0), coalesce(b.denial_streak, 0), b.highest_sensitivity,
            b.risk_level,
            h.total, h.at_hour, n.network::text, n.last_seen_at,
            EXISTS (SELECT 1 FROM risk_grants g WHERE g.principal_id = $1 AND g.resource_id = $2),
            (SELECT count(*) FROM access_requests r WHERE r.principal_id = $1 AND r.created_at > $3),
            (SELECT count(*) FROM (SELECT DISTINCT m.principal_id FROM risk_group_members m
                                   WHERE m.group_name = ANY($9::text[]) AND m.principal_id <> $1
                                   LIMIT \(RiskBaselineStore.peerLimit)) AS peer)::int8,
            (SELECT count(*) FROM (SELECT DISTINCT gg.principal_id FROM risk_group_grants gg
                                   WHERE gg.group_name = ANY($9::text[]) AND gg.resource_id = $2
                                     AND gg.principal_id <> $1
                                   LIMIT \(RiskBaselineStore.peerLimit)) AS holder)::int8,
            (SELECT count(*) FROM access_requests r WHERE r.principal_id = $1 AND r.resource_id = $2
             AND r.role = $6 AND r.created_at > $4 AND r.status = 'issued'),
            coalesce((SELECT jsonb_agg(jsonb_build_object(
                          'id', s.id, 'signal', s.signal, 'severity', s.severity, 'source', s.source,
                          'received_at', extract(epoch FROM s.received_at),
                          'expires_at', extract(epoch FROM s.expires_at)) ORDER BY s.received_at, s.id)
                      FROM risk_signals s WHERE s.principal_id = $1 AND s.withdrawn_at IS NULL
                        AND s.expires_at > $5 AND s.received_at <= $5), '[]')::text
        FROM (SELECT 1) AS one
        LEFT JOIN risk_baselines b ON b.principal_id = $1
        CROSS JOIN LATERAL (
            SELECT coalesce(sum(w.requests), 0)::int8 AS total, coalesce(sum(w.by_hour[$10 + 1]), 0)::int8 AS at_hour
            FROM risk_hour_weeks w WHERE w.principal_id = $1 AND w.week >= $7::timestamptz::date
        ) AS h
        LEFT JOIN risk_networks n ON n.principal_id = $1 AND n.network = airlock_risk_network($8::text::inet)
        """
    typealias Row = (
        Date?, Int64, Int32, Int32?, String?, Int64, Int64, String?, Date?, Bool, Int64, Int64, Int64, Int64, String
    )

    let principal: String
    let resource: String
    let burstSince: Date
    let activationsSince: Date
    let at: Date
    let role: String
    let hoursSince: Date
    let sourceIP: String?
    let groups: [String]
    let hourOfWeek: Int

    func makeBindings() throws -> PostgresBindings {
        var bindings = PostgresBindings()
        bindings.append(principal)
        bindings.append(resource)
        bindings.append(burstSince)
        bindings.append(activationsSince)
        bindings.append(at)
        bindings.append(role)
        bindings.append(hoursSince)
        bindings.append(sourceIP)
        bindings.append(groups)
        bindings.append(Int32(hourOfWeek))
        return bindings
    }

    func decodeRow(_ row: PostgresRow) throws -> Row {
        try row.decode(Row.self)
    }
}
