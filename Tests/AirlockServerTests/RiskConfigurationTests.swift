import AirlockCore
import AirlockRisk
import AirlockServer
import AirlockTestSupport
import Foundation
import Testing

/// `risk.*` (issue 15): the engine, every weight, threshold and window, from the file or the environment; values out
/// of range stop start-up naming the setting.
struct RiskConfigurationTests {
    @Test("defaults: the baseline engine with RiskSettings' defaults")
    func defaults() throws {
        let config = try AirlockConfiguration.load(file: nil, environment: [:])
        #expect(config.riskEngine == .baseline)
        #expect(config.riskSettings == RiskSettings())
    }

    @Test("every kind of risk setting is read from the file, and the environment wins")
    func readsEverything() throws {
        let dir = try TemporaryDirectory()
        let file = try dir.write("c.json", #"""
            {"risk": {"engine": "off", "weights": {"off_hours": 0, "burst": 40}, "external_weights": {"critical": 100},
              "new_source_ip": {"window": "14d"}, "off_hours": {"window": "60d", "minimum_history": 5,
              "rare_percent": 3, "business_hours": "7-19"}, "burst": {"window": "2m", "minimum": 6, "factor": 3},
              "sensitivity_jump": {"floor": 6}, "peer_outlier": {"minimum": 8, "percent": 20},
              "stale_mfa": {"after": "8h"}, "denial_streak": {"count": 4}, "alert_score": 60,
              "alert_signals": ["burst"], "repeated_activation": {"count": 3, "sensitivity": 9, "window": "7d"}}}
            """#)
        let config = try AirlockConfiguration.load(file: file, environment: ["AIRLOCK_RISK_WEIGHTS_BURST": "45"])
        let risk = config.riskSettings
        #expect(config.riskEngine == .off)
        #expect(risk.weight(of: .offHours) == 0 && risk.weight(of: .burst) == 45 && risk.weight(of: .newSourceIP) == 20)
        #expect(risk.externalWeights[.critical] == 100 && risk.externalWeights[.high] == 50)
        #expect(risk.sourceNetworkWindow == 14 * 86_400 && risk.hourOfWeekWindow == 60 * 86_400)
        #expect(risk.hourOfWeekMinimumHistory == 5 && risk.hourOfWeekRareShare == 0.03 && risk.businessHours == 7..<19)
        #expect(risk.burstWindow == 120 && risk.burstMinimum == 6 && risk.burstFactor == 3)
        #expect(risk.sensitivityFloor == 6 && risk.peerMinimum == 8 && risk.peerShare == 0.2)
        #expect(risk.staleMFA == 8 * 3600 && risk.denialStreak == 4)
        #expect(risk.alertScore == 60 && risk.alertSignals == [.burst])
        #expect(risk.repeatedActivationCount == 3 && risk.repeatedActivationSensitivity == 9)
        #expect(risk.repeatedActivationWindow == 7 * 86_400)
    }

    @Test("a risk setting out of range or of the wrong kind stops start-up naming it", arguments: [
        ("AIRLOCK_RISK_ENGINE", "magic", "risk.engine"),
        ("AIRLOCK_RISK_WEIGHTS_BURST", "101", "risk.weights.burst"),
        ("AIRLOCK_RISK_EXTERNAL_WEIGHTS_HIGH", "-1", "risk.external_weights.high"),
        ("AIRLOCK_RISK_NEW_SOURCE_IP_WINDOW", "10m", "risk.new_source_ip.window"),
        ("AIRLOCK_RISK_OFF_HOURS_BUSINESS_HOURS", "18-8", "risk.off_hours.business_hours"),
        ("AIRLOCK_RISK_BURST_WINDOW", "thirty", "risk.burst.window"),
        ("AIRLOCK_RISK_ALERT_SIGNALS", "burst,stolen_laptop", "risk.alert_signals"),
        ("AIRLOCK_RISK_REPEATED_ACTIVATION_COUNT", "1", "risk.repeated_activation.count"),
    ])
    func refused(variable: String, value: String, key: String) {
        let error = #expect(throws: ConfigurationError.self) {
            try AirlockConfiguration.load(file: nil, environment: [variable: value])
        }
        #expect(error?.key == key, "\(String(describing: error))")
    }
}
