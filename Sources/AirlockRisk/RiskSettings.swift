import AirlockCore

/// The weights, thresholds and windows of the risk score. Every default is documented in `Docs/risk.md`; the
/// configuration may change each (`risk.*`).
public struct RiskSettings: Sendable, Hashable {
    /// What each built-in signal adds to the score when it fires.
    public var weights: [BuiltInRiskSignal: Int] = [
        .newSourceIP: 20, .offHours: 15, .burst: 25, .firstUseOfResource: 10, .sensitivityJump: 15,
        .peerOutlier: 15, .staleMFA: 10, .denialStreak: 20, .breakGlass: 30,
    ]
    /// What an active external signal adds, by its severity.
    public var externalWeights: [Severity: Int] = [.info: 5, .low: 10, .medium: 25, .high: 50, .critical: 80]

    /// A principal's risk level (CAEP `risk-level-change`): `MEDIUM` from this score up.
    public var mediumLevel: Int64 = 30
    /// `HIGH` from this score up (the example guardrails refuse every grant from 70).
    public var highLevel: Int64 = 70

    /// `new_source_ip`: a network (IPv4 /24, IPv6 /64) not used by the principal within this many seconds.
    public var sourceNetworkWindow: Int64 = 30 * 86_400
    /// `off_hours`: the history of hours of the week covers this many seconds.
    public var hourOfWeekWindow: Int64 = 90 * 86_400
    /// `off_hours`: below this many requests in the history, the prior (business hours) decides.
    public var hourOfWeekMinimumHistory = 20
    /// `off_hours`: an hour of the week holding at most this share of the principal's requests is rare.
    public var hourOfWeekRareShare = 0.01
    /// `off_hours`: the prior for a newcomer, hours `start..<end` on Monday to Friday.
    public var businessHours = 8..<18

    /// `burst`: requests counted within this many seconds before the request (the request included).
    public var burstWindow: Int64 = 60
    /// `burst`: at least this many in the window …
    public var burstMinimum = 10
    /// … and more than this many times the principal's usual count for a window of that length.
    public var burstFactor = 5.0

    /// `sensitivity_jump`: fires only for a resource of at least this sensitivity (0–10).
    public var sensitivityFloor = 5

    /// `peer_outlier`: judged only with at least this many peers (people sharing a group) …
    public var peerMinimum = 5
    /// … and fires when at most this share of them ever had the access.
    public var peerShare = 0.1

    /// `stale_mfa`: a person whose last MFA is older than this many seconds (or who has none).
    public var staleMFA: Int64 = 12 * 3600

    /// `denial_streak`: this many denials in a row just before the request.
    public var denialStreak = 3

    /// Anomaly alerts: a request whose score reaches this alerts (`airlock.anomaly.detected`) …
    public var alertScore: Int64 = 50
    /// … and so does one on which any of these signals fired, whatever the score.
    public var alertSignals: Set<BuiltInRiskSignal> = [.burst, .denialStreak, .breakGlass]
    /// Hygiene: the same role of a resource of at least this sensitivity …
    public var repeatedActivationSensitivity = 7
    /// … activated (issued) this many times, this request included …
    public var repeatedActivationCount = 5
    /// … within this many seconds is standing access in disguise, and alerts.
    public var repeatedActivationWindow: Int64 = 30 * 86_400

    public init() {}

    /// The weight of `signal` (0 when the configuration turns it off).
    public func weight(of signal: BuiltInRiskSignal) -> Int { weights[signal] ?? 0 }
}

/// The signals Airlock computes itself, by the names the policy reads.
public enum BuiltInRiskSignal: String, Sendable, Hashable, CaseIterable {
    case newSourceIP = "new_source_ip"
    case offHours = "off_hours"
    case burst
    case firstUseOfResource = "first_use_of_resource"
    case sensitivityJump = "sensitivity_jump"
    case peerOutlier = "peer_outlier"
    case staleMFA = "stale_mfa"
    case denialStreak = "denial_streak"
    case breakGlass = "break_glass"
}
