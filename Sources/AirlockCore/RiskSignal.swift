/// One reason a request is riskier than usual: a built-in signal (`new_source_ip`, `off_hours`, …) or an active
/// external one (`device_compromised`, …), with the weight it adds to the score and, in words, why it fired.
public struct RiskSignal: Sendable, Hashable {
    /// The name the policy sees in `risk.signals`.
    public var name: String
    /// What it adds to the score (0–100; the score is the sum, at most 100).
    public var weight: Int
    /// Why it fired, for requesters, approvers and the audit trail ("first request from 203.0.113.0/24 in 30 days").
    public var detail: String

    public init(name: String, weight: Int, detail: String) {
        self.name = name
        self.weight = weight
        self.detail = detail
    }
}

/// Why a request is worth the security team's attention now (`airlock.anomaly.detected`): the severity, and each
/// reason in words.
public struct AnomalyAlert: Sendable, Hashable {
    public var severity: Severity
    /// One line per reason: the score over the alert threshold, an alerting signal with its detail, or a hygiene
    /// finding ("orders-db readwrite activated 6 times in 30 days").
    public var reasons: [String]

    public init(severity: Severity, reasons: [String]) {
        self.severity = severity
        self.reasons = reasons
    }
}

/// A risk score (0–100) and the signals behind it, heaviest first.
public struct RiskAssessment: Sendable, Hashable {
    public var score: Int64
    public var signals: [RiskSignal]
    /// Set when the request should alert the security team (the risk engine decides; nil: no alert).
    public var anomaly: AnomalyAlert?
    /// The principal's risk level by this score, and the level they had before it, when the risk engine judged them
    /// (nil: no judgement, nothing changes). A request that moves it records `airlock.risk.level_changed`.
    public var level: (current: RiskLevel, previous: RiskLevel)?

    /// The score of `signals`: their weights summed, at most 100; the signals heaviest first (then by name).
    public init(signals: [RiskSignal]) {
        self.signals = signals.sorted { ($0.weight, $1.name) > ($1.weight, $0.name) }
        self.score = Int64(min(100, signals.reduce(0) { $0 + max(0, $1.weight) }))
    }

    /// No risk known: score 0, no signals.
    public static let none = RiskAssessment(signals: [])

    /// The signal names, as the policy reads them in `risk.signals`.
    public var names: [String] { signals.map(\.name) }

    /// Two assessments are the same when their score, signals and alert are: the level is a judgement made when a
    /// request is recorded, not part of what is stored and shown.
    public static func == (lhs: RiskAssessment, rhs: RiskAssessment) -> Bool {
        lhs.score == rhs.score && lhs.signals == rhs.signals && lhs.anomaly == rhs.anomaly
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(score)
        hasher.combine(signals)
        hasher.combine(anomaly)
    }
}

extension RiskAssessment {
    /// The form every decision answer and the stored request carry: `{"score": N, "signals": [{"name", "weight",
    /// "detail"}]}`, heaviest signal first.
    public var json: JSONValue {
        .object([
            "score": .int(score),
            "signals": .array(signals.map { signal in
                .object(["name": .string(signal.name), "weight": .int(Int64(signal.weight)), "detail": .string(signal.detail)])
            }),
        ])
    }

    /// Reads back ``json`` (as stored with a request). Nil when `value` is not in that form.
    public init?(json value: JSONValue) {
        guard let items = value["signals"]?.arrayValue, value["score"]?.intValue != nil else { return nil }
        var signals: [RiskSignal] = []
        for item in items {
            guard let name = item["name"]?.stringValue, let weight = item["weight"]?.intValue,
                  let detail = item["detail"]?.stringValue else { return nil }
            signals.append(RiskSignal(name: name, weight: Int(weight), detail: detail))
        }
        self.init(signals: signals)
    }
}
