import AirlockCore
import Foundation
import Logging
import PostgresNIO

/// Reads a principal's risk baseline (migrations 0015, 0019 and 0027, kept by trigger in the transaction of each
/// request and decision) in one round trip, every part from an index: the counters, the window's requests and those
/// at the request's hour of the week, the request's network, whether the resource was granted before, the requests in
/// the burst window, and the peers.
public struct RiskBaselineStore: Sendable {
    public let database: Database
    public let logger: Logger

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
            sourceIP: query.sourceIP, groups: query.groups, hourOfWeek: query.hourOfWeek),
            logger: logger, onEventLoop: true)  // one small row, on every decision's path
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
        // Almost every request: nothing active, and nothing to parse.
        guard text != "[]", let items = try? JSONValue.parse(text).arrayValue else { return [] }
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

/// The baseline read: one call of `airlock_risk_baseline` (migration 0023, as 0027 left it), prepared once per
/// connection. The function holds the statement, so that its plan is made once per connection too: sent as a prepared
/// statement of its own, it was planned again on every execution (PostgreSQL never preferred its generic plan), and
/// planning it cost more than running it. Every part is one index range: the hours of the week are one row of totals,
/// less the weekly rows before the window that a principal who has not asked since still has; the peers, and those
/// with this access, a group's running totals (in several groups, up to 1000 people counted once each); the repeated
/// activations an index of issued requests.
struct RiskBaselineQuery: PostgresPreparedStatement {
    static let name = "airlock_risk_baseline_v5"
    static let sql = "SELECT * FROM airlock_risk_baseline($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
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
