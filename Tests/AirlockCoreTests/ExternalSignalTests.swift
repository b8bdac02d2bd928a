import AirlockCore
import Foundation
import Testing

/// An external risk signal's name rule, its status over time, and its alert routing (issue 15, item 4).
struct ExternalSignalTests {
    @Test("names match ^[a-z][a-z0-9_]{0,62}$", arguments: [
        ("device_compromised", true), ("a", true), ("x9_", true), ("a" + String(repeating: "b", count: 62), true),
        ("a" + String(repeating: "b", count: 63), false), ("", false), ("9lives", false), ("_x", false),
        ("Device", false), ("device-compromised", false), ("dévice", false), ("device compromised", false),
    ])
    func names(name: String, valid: Bool) {
        #expect(ExternalSignal.isWellFormedName(name) == valid, "\(name)")
    }

    @Test func statusFollowsTheClock() {
        let start = Date(timeIntervalSince1970: 1_800_000_000)
        var signal = ExternalSignal(
            id: UUID(), principal: "alice", name: "device_compromised", severity: .high, detail: nil,
            source: "token:edr", receivedAt: start, expiresAt: start.addingTimeInterval(60))
        #expect(signal.status(at: start) == .active)
        #expect(signal.status(at: start.addingTimeInterval(59.999)) == .active)
        #expect(signal.status(at: start.addingTimeInterval(60)) == .expired)
        signal.withdrawnAt = start.addingTimeInterval(10)
        signal.withdrawnBy = "token:edr"
        #expect(signal.status(at: start.addingTimeInterval(20)) == .withdrawn)
        #expect(signal.status(at: start.addingTimeInterval(120)) == .withdrawn)
    }

    @Test func highAndCriticalSignalsGoToSecurity() {
        for severity in Severity.allCases {
            let routing = AlertRouting.externalSignal(severity: severity)
            #expect(routing.severity == severity)
            #expect(routing.channels == (severity >= .high ? [AlertRouting.security] : []), "\(severity)")
        }
    }
}
