import AirlockBroker
import AirlockCore
import AirlockRisk
import Foundation
import Testing

/// The checks of a new external signal (issue 15, item 4), without a database: names Airlock computes itself are
/// refused, and an accepted signal is what the scorer counts.
struct SignalValidationTests {
    static func ask(_ name: String) -> NewSignal {
        NewSignal(principal: "alice", name: name, severity: "high", ttlSeconds: 600)
    }

    @Test func everyNameTheRiskEngineComputesIsRefused() throws {
        #expect(Set(Signals.reservedNames) == Set([
            "new_source_ip", "off_hours", "burst", "first_use_of_resource", "sensitivity_jump", "peer_outlier",
            "stale_mfa", "denial_streak", "break_glass", "risk_unavailable",
        ]))
        for name in Signals.reservedNames {
            #expect(ExternalSignal.isWellFormedName(name), "\(name)")
            #expect(throws: BrokerError.self, "\(name)") { try Signals.validate(Self.ask(name)) }
        }
        let checked = try Signals.validate(Self.ask("device_compromised"))
        #expect(checked.name == "device_compromised" && checked.severity == .high && checked.detail == nil)
    }

    @Test func anEmptyDetailIsNone() throws {
        var ask = Self.ask("credential_leaked")
        ask.detail = ""
        #expect(try Signals.validate(ask).detail == nil)
        ask.detail = "line one\nline\ttwo"
        #expect(try Signals.validate(ask).detail == "line one\nline\ttwo")
    }

    @Test func anActiveSignalCountsInTheScoreBySeverity() {
        let start = Date(timeIntervalSince1970: 1_800_000_000)
        let signal = ExternalSignal(
            id: UUID(), principal: "alice", name: "device_compromised", severity: .critical, detail: "not carried",
            source: "token:edr", receivedAt: start, expiresAt: start.addingTimeInterval(3600))
        let reported = ReportedSignal(signal)
        #expect(reported == ReportedSignal(
            name: "device_compromised", severity: .critical, source: "token:edr", expiresAt: start.addingTimeInterval(3600)))
    }
}
