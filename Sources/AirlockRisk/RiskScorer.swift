import AirlockCore
import Foundation

/// What a request says about itself, for the score: who asks, for what, from where, when.
public struct RiskFacts: Sendable, Hashable {
    public var principalKind: Principal.Kind
    /// Seconds since the principal's last MFA; nil when the credential says none.
    public var mfaAgeSeconds: Int64?
    public var resource: String
    public var sensitivity: Int
    public var sourceIP: String?
    public var breakGlass: Bool
    public var at: Date
    /// The role asked for (hygiene findings name it).
    public var role: String

    public init(
        principalKind: Principal.Kind, mfaAgeSeconds: Int64?, resource: String, sensitivity: Int, sourceIP: String?,
        breakGlass: Bool, at: Date, role: String = ""
    ) {
        self.role = role
        self.principalKind = principalKind
        self.mfaAgeSeconds = mfaAgeSeconds
        self.resource = resource
        self.sensitivity = sensitivity
        self.sourceIP = sourceIP
        self.breakGlass = breakGlass
        self.at = at
    }
}

/// An external signal active for the principal (`POST /v1/signals`), as the score counts it.
public struct ReportedSignal: Sendable, Hashable {
    public var name: String
    public var severity: Severity
    public var source: String
    public var expiresAt: Date

    public init(name: String, severity: Severity, source: String, expiresAt: Date) {
        self.name = name
        self.severity = severity
        self.source = source
        self.expiresAt = expiresAt
    }
}

/// The risk of one request, judged against the principal's own history: pure, so the same facts and baseline give
/// the same score (what replay and the tests rely on). Each signal that fires says why in its `detail`.
public struct RiskScorer: Sendable {
    public let settings: RiskSettings
    public let timeZone: TimeZone

    public init(settings: RiskSettings = RiskSettings(), timeZone: TimeZone) {
        self.settings = settings
        self.timeZone = timeZone
    }

    public func assess(_ facts: RiskFacts, baseline: PrincipalBaseline, reported: [ReportedSignal] = []) -> RiskAssessment {
        var fired: [RiskSignal] = []
        func fire(_ signal: BuiltInRiskSignal, _ detail: String) {
            let weight = settings.weight(of: signal)
            if weight > 0 { fired.append(RiskSignal(name: signal.rawValue, weight: weight, detail: detail)) }
        }
        if let detail = newSourceNetwork(facts, baseline) { fire(.newSourceIP, detail) }
        if let detail = offHours(facts, baseline) { fire(.offHours, detail) }
        if let detail = burst(baseline) { fire(.burst, detail) }
        if !baseline.resourcesUsed.contains(facts.resource) {
            fire(.firstUseOfResource, "first request for \(facts.resource)")
        }
        // A jump needs somewhere to jump from: a newcomer's first grants are `first_use_of_resource` already.
        if let highest = baseline.highestSensitivity, facts.sensitivity >= settings.sensitivityFloor,
           facts.sensitivity > highest {
            fire(.sensitivityJump, "sensitivity \(facts.sensitivity), at most \(highest) before")
        }
        if baseline.peers >= settings.peerMinimum,
           Double(baseline.peersWithAccess) <= settings.peerShare * Double(baseline.peers) {
            fire(.peerOutlier, "\(baseline.peersWithAccess) of \(baseline.peers) peers ever had \(facts.resource)")
        }
        if facts.principalKind == .user {
            if let age = facts.mfaAgeSeconds {
                if age > settings.staleMFA { fire(.staleMFA, "last MFA \(Self.duration(age)) ago") }
            } else {
                fire(.staleMFA, "no MFA in this sign-in")
            }
        }
        if baseline.denialStreak >= settings.denialStreak {
            fire(.denialStreak, "\(baseline.denialStreak) denials in a row before this request")
        }
        if facts.breakGlass { fire(.breakGlass, "break-glass request") }
        for signal in Self.strongestByName(reported) {
            let weight = settings.externalWeights[signal.severity] ?? 0
            fired.append(RiskSignal(
                name: signal.name, weight: weight,
                detail: "\(signal.severity.rawValue) signal from \(signal.source), active until \(AuditTime.format(signal.expiresAt))"))
        }
        var assessment = RiskAssessment(signals: fired)
        assessment.anomaly = anomaly(assessment, facts, baseline)
        return assessment
    }

    /// Whether the request alerts the security team, how severely and why: its score reaches
    /// ``RiskSettings/alertScore``, an alerting signal fired (burst, denial streak, break-glass by default), or the
    /// same role of a sensitive resource was activated again and again (standing access in disguise).
    func anomaly(_ assessment: RiskAssessment, _ facts: RiskFacts, _ baseline: PrincipalBaseline) -> AnomalyAlert? {
        var reasons: [String] = []
        var severity = Severity.info
        if assessment.score >= settings.alertScore {
            reasons.append("risk score \(assessment.score) reaches the alert threshold \(settings.alertScore)")
            severity = max(severity, Self.severity(score: assessment.score))
        }
        for signal in assessment.signals {
            guard let builtIn = BuiltInRiskSignal(rawValue: signal.name), settings.alertSignals.contains(builtIn) else {
                continue
            }
            reasons.append("\(signal.name): \(signal.detail)")
            severity = max(severity, builtIn == .breakGlass ? .critical : (builtIn == .burst ? .high : .medium))
        }
        let activations = baseline.activations + 1
        if facts.sensitivity >= settings.repeatedActivationSensitivity, activations >= settings.repeatedActivationCount {
            reasons.append("\(facts.resource) \(facts.role) (sensitivity \(facts.sensitivity)): \(activations) activations in "
                + "\(Self.duration(settings.repeatedActivationWindow)), this one included: standing access in disguise")
            severity = max(severity, .medium)
        }
        return reasons.isEmpty ? nil : AnomalyAlert(severity: severity, reasons: reasons)
    }

    /// The severity of an alert for `score`: critical from 80, high from 60, medium from 40, else low.
    public static func severity(score: Int64) -> Severity {
        switch score {
        case 80...: .critical
        case 60..<80: .high
        case 40..<60: .medium
        default: .low
        }
    }

    /// `new_source_ip`: the request's network was not used within the window. A newcomer's first request has no
    /// network on record to depart from: it does not fire.
    func newSourceNetwork(_ facts: RiskFacts, _ baseline: PrincipalBaseline) -> String? {
        guard baseline.requests > 0, let ip = facts.sourceIP, let network = SourceNetwork.of(ip) else { return nil }
        let since = facts.at.addingTimeInterval(-TimeInterval(settings.sourceNetworkWindow))
        if let last = baseline.networks[network], last >= since { return nil }
        return "first request from \(network) in \(Self.duration(settings.sourceNetworkWindow))"
    }

    /// `off_hours`: an hour of the week rare in the principal's history; for a newcomer, outside business hours.
    func offHours(_ facts: RiskFacts, _ baseline: PrincipalBaseline) -> String? {
        let hour = HourOfWeek.of(facts.at, in: timeZone)
        let total = baseline.hourOfWeek.total
        if total < settings.hourOfWeekMinimumHistory {
            let weekday = hour / 24 < 5
            guard !(weekday && settings.businessHours.contains(hour % 24)) else { return nil }
            let hours = settings.businessHours
            return "\(HourOfWeek.describe(hour)) (\(timeZone.identifier)) is outside business hours "
                + "(Monday to Friday \(HourOfWeek.twoDigits(hours.lowerBound)):00–\(HourOfWeek.twoDigits(hours.upperBound)):00) and there is too little history to judge"
        }
        let here = baseline.hourOfWeek[hour]
        guard Double(here) <= settings.hourOfWeekRareShare * Double(total) else { return nil }
        return "\(HourOfWeek.describe(hour)) (\(timeZone.identifier)): \(here) of \(total) requests in "
            + "\(Self.duration(settings.hourOfWeekWindow)) at this hour of the week"
    }

    /// `burst`: far more requests in the window than usual.
    func burst(_ baseline: PrincipalBaseline) -> String? {
        let count = baseline.recentRequests + 1
        guard count >= settings.burstMinimum, Double(count) > settings.burstFactor * baseline.usualRequests else {
            return nil
        }
        let usual = (baseline.usualRequests * 10).rounded() / 10
        return "\(count) requests in \(Self.duration(settings.burstWindow)), usually \(usual)"
    }

    /// One entry per external signal name: the most severe (then the latest to expire).
    static func strongestByName(_ signals: [ReportedSignal]) -> [ReportedSignal] {
        var strongest: [String: ReportedSignal] = [:]
        for signal in signals {
            if let kept = strongest[signal.name],
               (kept.severity, kept.expiresAt) >= (signal.severity, signal.expiresAt) { continue }
            strongest[signal.name] = signal
        }
        return strongest.values.sorted { $0.name < $1.name }
    }

    /// "30 days", "12 hours", "90 seconds".
    static func duration(_ seconds: Int64) -> String {
        func unit(_ count: Int64, _ name: String) -> String { "\(count) \(name)\(count == 1 ? "" : "s")" }
        if seconds >= 86_400, seconds % 86_400 == 0 { return unit(seconds / 86_400, "day") }
        if seconds >= 3600, seconds % 3600 == 0 { return unit(seconds / 3600, "hour") }
        if seconds >= 60, seconds % 60 == 0 { return unit(seconds / 60, "minute") }
        return unit(seconds, "second")
    }
}
