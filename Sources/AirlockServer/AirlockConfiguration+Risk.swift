import AirlockCore
import AirlockPolicy
import AirlockRisk
import Foundation

/// Which risk engine decides with the policy (`risk.engine`).
public enum RiskEngineChoice: String, Sendable {
    /// Each principal's baseline and active external signals, read from PostgreSQL (`BaselineRiskAssessor`).
    case baseline
    /// No risk engine: every decision at score 0 with no signals.
    case off
}

extension AirlockConfiguration {
    /// `risk.*`: the engine, and the weights, thresholds and windows of its signals (defaults in `RiskSettings`,
    /// documented in `Docs/risk.md`).
    mutating func loadRisk(reader: inout ConfigurationReader) throws(ConfigurationError) {
        if let engine = try reader.string("risk.engine") {
            guard let choice = RiskEngineChoice(rawValue: engine.trimmingCharacters(in: .whitespaces)) else {
                throw reader.invalid("risk.engine")
            }
            riskEngine = choice
        }
        var settings = riskSettings
        for signal in BuiltInRiskSignal.allCases {
            if let weight = try reader.int("risk.weights.\(signal.rawValue)", in: 0...100) { settings.weights[signal] = weight }
        }
        for severity in Severity.allCases {
            if let weight = try reader.int("risk.external_weights.\(severity.rawValue)", in: 0...100) {
                settings.externalWeights[severity] = weight
            }
        }
        if let seconds = try Self.duration(&reader, "risk.new_source_ip.window", 3_600...31_536_000) {
            settings.sourceNetworkWindow = seconds
        }
        if let seconds = try Self.duration(&reader, "risk.off_hours.window", 604_800...31_536_000) {
            settings.hourOfWeekWindow = seconds
        }
        if let count = try reader.int("risk.off_hours.minimum_history", in: 0...100_000) {
            settings.hourOfWeekMinimumHistory = count
        }
        if let percent = try reader.int("risk.off_hours.rare_percent", in: 0...100) {
            settings.hourOfWeekRareShare = Double(percent) / 100
        }
        if let text = try reader.string("risk.off_hours.business_hours") {
            let parts = text.split(separator: "-").map { Int($0.trimmingCharacters(in: .whitespaces)) }
            guard parts.count == 2, let start = parts[0], let end = parts[1], 0 <= start, start < end, end <= 24 else {
                throw reader.invalid("risk.off_hours.business_hours")
            }
            settings.businessHours = start..<end
        }
        if let seconds = try Self.duration(&reader, "risk.burst.window", 10...3_600) { settings.burstWindow = seconds }
        if let count = try reader.int("risk.burst.minimum", in: 2...100_000) { settings.burstMinimum = count }
        if let factor = try reader.int("risk.burst.factor", in: 1...1_000) { settings.burstFactor = Double(factor) }
        if let floor = try reader.int("risk.sensitivity_jump.floor", in: 0...10) { settings.sensitivityFloor = floor }
        if let count = try reader.int("risk.peer_outlier.minimum", in: 1...100_000) { settings.peerMinimum = count }
        if let percent = try reader.int("risk.peer_outlier.percent", in: 0...100) {
            settings.peerShare = Double(percent) / 100
        }
        if let seconds = try Self.duration(&reader, "risk.stale_mfa.after", 60...2_592_000) { settings.staleMFA = seconds }
        if let count = try reader.int("risk.denial_streak.count", in: 1...1_000) { settings.denialStreak = count }
        if let score = try reader.int("risk.alert_score", in: 1...101) { settings.alertScore = Int64(score) }
        if let names = try reader.list("risk.alert_signals") {
            var signals: Set<BuiltInRiskSignal> = []
            for name in names where !name.isEmpty {
                guard let signal = BuiltInRiskSignal(rawValue: name) else { throw reader.invalid("risk.alert_signals") }
                signals.insert(signal)
            }
            settings.alertSignals = signals
        }
        if let count = try reader.int("risk.repeated_activation.count", in: 2...1_000) {
            settings.repeatedActivationCount = count
        }
        if let floor = try reader.int("risk.repeated_activation.sensitivity", in: 0...11) {
            settings.repeatedActivationSensitivity = floor
        }
        if let seconds = try Self.duration(&reader, "risk.repeated_activation.window", 86_400...31_536_000) {
            settings.repeatedActivationWindow = seconds
        }
        let medium = try reader.int("risk.levels.medium", in: 1...100).map(Int64.init) ?? settings.mediumLevel
        let high = try reader.int("risk.levels.high", in: 1...100).map(Int64.init) ?? settings.highLevel
        guard medium < high else {
            throw ConfigurationError(key: "risk.levels.high", message: "must be above `risk.levels.medium` (\(medium))")
        }
        (settings.mediumLevel, settings.highLevel) = (medium, high)
        riskSettings = settings
        if let seconds = try Self.duration(&reader, "risk.reevaluation_interval", 1...86_400) {
            reevaluationInterval = .seconds(seconds)
        }
    }

    /// A duration setting (`30d`, `12h`, `90s`) in `range` seconds.
    private static func duration(
        _ reader: inout ConfigurationReader, _ key: String, _ range: ClosedRange<Int64>
    ) throws(ConfigurationError) -> Int64? {
        guard let text = try reader.string(key) else { return nil }
        guard case .success(let seconds) = DurationText.parse(text.trimmingCharacters(in: .whitespaces)),
              range.contains(seconds)
        else { throw reader.invalid(key) }
        return seconds
    }
}
