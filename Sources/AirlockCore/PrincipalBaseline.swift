import Foundation

/// What Airlock knows of one principal's past requests, as the baselines hold it at the moment of a request (the
/// request itself not yet counted).
public struct PrincipalBaseline: Sendable, Hashable {
    /// The principal's requests on record before this one (0: a newcomer).
    public var requests: Int
    /// How often the principal was issued the role asked for, on this resource, within the repeated-activation
    /// window before this request.
    public var activations: Int = 0
    /// The networks (``SourceNetwork``) the principal asked from, each with when it was last used (the store reads
    /// only the request's own network).
    public var networks: [String: Date]
    /// Requests by hour of the week over the history window (the store reads only the request's own hour).
    public var hourOfWeek: HourOfWeekCounts
    /// The principal's requests within the burst window before this one.
    public var recentRequests: Int
    /// The principal's usual number of requests in a burst window (its long-run average), 0 when unknown.
    public var usualRequests: Double
    /// The resources the principal was granted before.
    public var resourcesUsed: Set<String>
    /// The highest sensitivity of a resource the principal was granted before; nil when none.
    public var highestSensitivity: Int?
    /// Denials in a row, most recent last, just before this request.
    public var denialStreak: Int
    /// People who share a group with the principal, and how many of them were ever granted this resource.
    public var peers: Int
    public var peersWithAccess: Int
    /// The risk level the principal's requests last moved them to (`LOW` when never moved).
    public var riskLevel: RiskLevel = .low

    public init(
        networks: [String: Date] = [:], hourOfWeek: [Int] = Array(repeating: 0, count: 168), recentRequests: Int = 0,
        usualRequests: Double = 0, resourcesUsed: Set<String> = [], highestSensitivity: Int? = nil,
        denialStreak: Int = 0, peers: Int = 0, peersWithAccess: Int = 0, requests: Int = 0
    ) {
        self.requests = requests
        self.networks = networks
        self.hourOfWeek = HourOfWeekCounts(histogram: hourOfWeek)
        self.recentRequests = recentRequests
        self.usualRequests = usualRequests
        self.resourcesUsed = resourcesUsed
        self.highestSensitivity = highestSensitivity
        self.denialStreak = denialStreak
        self.peers = peers
        self.peersWithAccess = peersWithAccess
    }

    /// A principal Airlock has never seen.
    public static let newcomer = PrincipalBaseline()
}

/// A principal's requests over the hour-of-week history window: how many in all, and how many at each hour of the week
/// (0 is Monday 00:00–01:00 in the broker's time zone, as `HourOfWeek` counts). The hours may be only some of the 168:
/// the store reads the one a request is scored at, so the others count as 0 and only `total` speaks for them.
public struct HourOfWeekCounts: Sendable, Hashable {
    public var total: Int
    public var byHour: [Int: Int]

    public init(total: Int, byHour: [Int: Int]) {
        self.total = total
        self.byHour = byHour
    }

    /// All 168 hours (anything else counts as no history).
    public init(histogram: [Int]) {
        guard histogram.count == 168 else {
            self.init(total: 0, byHour: [:])
            return
        }
        var byHour: [Int: Int] = [:]
        for (hour, count) in histogram.enumerated() where count != 0 { byHour[hour] = count }
        self.init(total: histogram.reduce(0, +), byHour: byHour)
    }

    public subscript(hour: Int) -> Int { byHour[hour] ?? 0 }
}
