import AirlockCore
import AirlockRisk
import Foundation
import Testing

/// The risk score as a pure function of a request's facts and the principal's baseline (issue 15, item 1).
struct RiskScorerTests {
    static let utc = TimeZone(identifier: "UTC")!
    /// Monday 7 December 2026, 00:00 UTC.
    static let monday = Date(timeIntervalSince1970: 1_796_601_600)

    static func at(day: Int, hour: Int, minute: Int = 0) -> Date {
        monday.addingTimeInterval(TimeInterval(day * 86_400 + hour * 3600 + minute * 60))
    }

    /// Alice: 90 days of requests Monday to Friday, 09:00–17:00, from 10.1.2.0/24 and 10.1.7.0/24 (in 10.1.0.0/16),
    /// for orders-db (sensitivity 7).
    static var alice: PrincipalBaseline {
        var hours = Array(repeating: 0, count: 168)
        for day in 0..<5 { for hour in 9..<17 { hours[day * 24 + hour] = 6 } }
        return PrincipalBaseline(
            networks: ["10.1.2.0/24": at(day: -1, hour: 10), "10.1.7.0/24": at(day: -20, hour: 11)],
            hourOfWeek: hours, recentRequests: 0, usualRequests: 0.02, resourcesUsed: ["orders-db"],
            highestSensitivity: 7, denialStreak: 0, peers: 12, peersWithAccess: 9, requests: 240)
    }

    static func facts(
        at date: Date, from ip: String?, resource: String = "orders-db", sensitivity: Int = 7, mfa: Int64? = 300,
        kind: Principal.Kind = .user, breakGlass: Bool = false
    ) -> RiskFacts {
        RiskFacts(
            principalKind: kind, mfaAgeSeconds: mfa, resource: resource, sensitivity: sensitivity, sourceIP: ip,
            breakGlass: breakGlass, at: date)
    }

    let scorer = RiskScorer(timeZone: utc)

    @Test("alice in her hours from her network scores 0; at 03:00 from a new network, off_hours and new_source_ip")
    func usualAndUnusual() {
        let usual = scorer.assess(Self.facts(at: Self.at(day: 2, hour: 10, minute: 15), from: "10.1.7.33"), baseline: Self.alice)
        #expect(usual == .none, "\(usual)")

        let unusual = scorer.assess(Self.facts(at: Self.at(day: 1, hour: 3), from: "198.51.100.7"), baseline: Self.alice)
        #expect(unusual.names == ["new_source_ip", "off_hours"])
        #expect(unusual.score == 35)
        #expect(unusual.signals[0].detail == "first request from 198.51.100.0/24 in 30 days")
        #expect(unusual.signals[1].detail == "Tuesday 03:00 (\(Self.utc.identifier)): 0 of 240 requests in 90 days at this hour of the week")
    }

    @Test("a newcomer's first request: no network or sensitivity to depart from, so neither new_source_ip nor sensitivity_jump")
    func newcomer() {
        let nobody = PrincipalBaseline(
            networks: [:], hourOfWeek: Array(repeating: 0, count: 168), recentRequests: 0, usualRequests: 0,
            resourcesUsed: [], highestSensitivity: nil, denialStreak: 0, peers: 0, peersWithAccess: 0)
        let first = scorer.assess(Self.facts(at: Self.at(day: 1, hour: 10), from: "198.51.100.7", sensitivity: 9), baseline: nobody)
        #expect(first.names == ["first_use_of_resource"], "\(first)")
        // Once a network and a grant are on record, both judge the next request.
        var known = nobody
        known.requests = 1
        known.networks["10.1.2.0/24"] = Self.at(day: 0, hour: 10)
        known.highestSensitivity = 3
        known.resourcesUsed = ["orders-db"]
        let next = scorer.assess(Self.facts(at: Self.at(day: 1, hour: 11), from: "198.51.100.7", sensitivity: 9), baseline: known)
        #expect(next.names == ["new_source_ip", "sensitivity_jump"], "\(next)")
    }

    @Test("a network last used more than 30 days ago is new again; IPv6 is judged by its /64")
    func networks() {
        var baseline = Self.alice
        baseline.networks["10.1.7.0/24"] = Self.at(day: -31, hour: 10)
        let stale = scorer.assess(Self.facts(at: Self.at(day: 0, hour: 10), from: "10.1.7.1"), baseline: baseline)
        #expect(stale.names == ["new_source_ip"])
        #expect(SourceNetwork.of("2001:db8:1:2:aaaa::1") == "2001:db8:1:2::/64")
        #expect(SourceNetwork.of("not an address") == nil)
        baseline.networks["2001:db8:1:2::/64"] = Self.at(day: -2, hour: 9)
        let v6 = scorer.assess(Self.facts(at: Self.at(day: 0, hour: 10), from: "2001:db8:1:2:ffff::9"), baseline: baseline)
        #expect(v6 == .none)
        let none = scorer.assess(Self.facts(at: Self.at(day: 0, hour: 10), from: nil), baseline: baseline)
        #expect(none == .none)
    }

    @Test("a newcomer is judged by business hours in the broker's time zone")
    func newcomerPrior() {
        var baseline = PrincipalBaseline.newcomer
        baseline.resourcesUsed = ["orders-db"]
        baseline.highestSensitivity = 7
        let inHours = scorer.assess(Self.facts(at: Self.at(day: 3, hour: 11), from: nil), baseline: baseline)
        #expect(inHours == .none)
        let saturday = scorer.assess(Self.facts(at: Self.at(day: 5, hour: 11), from: nil), baseline: baseline)
        #expect(saturday.names == ["off_hours"])
        #expect(saturday.signals[0].detail == "Saturday 11:00 (\(Self.utc.identifier)) is outside business hours "
            + "(Monday to Friday 08:00–18:00) and there is too little history to judge")
        // 11:00 UTC is 20:00 in Tokyo: off hours there.
        let tokyo = RiskScorer(timeZone: TimeZone(identifier: "Asia/Tokyo")!)
        #expect(tokyo.assess(Self.facts(at: Self.at(day: 3, hour: 11), from: nil), baseline: baseline).names == ["off_hours"])
    }

    @Test("twenty requests in a minute are a burst; ten at a usual pace of three are not")
    func burst() {
        var baseline = Self.alice
        baseline.recentRequests = 19
        let burst = scorer.assess(Self.facts(at: Self.at(day: 0, hour: 10), from: "10.1.2.9"), baseline: baseline)
        #expect(burst.names == ["burst"])
        #expect(burst.signals[0].detail == "20 requests in 1 minute, usually 0.0")
        baseline.recentRequests = 9
        baseline.usualRequests = 3
        #expect(scorer.assess(Self.facts(at: Self.at(day: 0, hour: 10), from: "10.1.2.9"), baseline: baseline) == .none)
    }

    @Test("first use, a sensitivity jump, few peers with the access, stale MFA, denials in a row, break-glass")
    func theOtherSignals() {
        var baseline = Self.alice
        baseline.denialStreak = 3
        baseline.peersWithAccess = 1
        let facts = Self.facts(
            at: Self.at(day: 0, hour: 10), from: "10.1.2.9", resource: "payments-db", sensitivity: 9, mfa: 13 * 3600,
            breakGlass: true)
        let assessment = scorer.assess(facts, baseline: baseline)
        #expect(assessment.names == [
            "break_glass", "denial_streak", "peer_outlier", "sensitivity_jump", "first_use_of_resource", "stale_mfa",
        ])
        #expect(assessment.score == 100)  // 30 + 20 + 15 + 15 + 10 + 10, capped
        let details = Dictionary(uniqueKeysWithValues: assessment.signals.map { ($0.name, $0.detail) })
        #expect(details["sensitivity_jump"] == "sensitivity 9, at most 7 before")
        #expect(details["peer_outlier"] == "1 of 12 peers ever had payments-db")
        #expect(details["stale_mfa"] == "last MFA 13 hours ago")
        #expect(details["first_use_of_resource"] == "first request for payments-db")

        // A low-sensitivity resource never jumps; a service has no MFA to be stale.
        let quiet = scorer.assess(
            Self.facts(at: Self.at(day: 0, hour: 10), from: "10.1.2.9", resource: "wiki", sensitivity: 2, mfa: nil,
                       kind: .service),
            baseline: Self.alice)
        #expect(quiet.names == ["first_use_of_resource"])
        let noMFA = scorer.assess(Self.facts(at: Self.at(day: 0, hour: 10), from: "10.1.2.9", mfa: nil), baseline: Self.alice)
        #expect(noMFA.signals == [RiskSignal(name: "stale_mfa", weight: 10, detail: "no MFA in this sign-in")])
    }

    @Test("external signals count by severity, once per name (the most severe)")
    func externalSignals() {
        let until = Self.at(day: 1, hour: 0)
        let reported = [
            ReportedSignal(name: "impossible_travel", severity: .medium, source: "siem", expiresAt: until),
            ReportedSignal(name: "device_compromised", severity: .low, source: "edr", expiresAt: until),
            ReportedSignal(name: "device_compromised", severity: .high, source: "edr-2", expiresAt: until),
        ]
        let assessment = scorer.assess(Self.facts(at: Self.at(day: 0, hour: 10), from: "10.1.2.9"), baseline: Self.alice,
                                       reported: reported)
        #expect(assessment.names == ["device_compromised", "impossible_travel"])
        #expect(assessment.score == 75)
        #expect(assessment.signals[0].detail == "high signal from edr-2, active until 2026-12-08T00:00:00.000Z")
    }

    @Test("weights come from the settings: a weight of 0 turns a signal off; the score never passes 100")
    func settings() {
        var settings = RiskSettings()
        settings.weights[.offHours] = 0
        settings.weights[.newSourceIP] = 90
        let scorer = RiskScorer(settings: settings, timeZone: Self.utc)
        let assessment = scorer.assess(
            Self.facts(at: Self.at(day: 1, hour: 3), from: "198.51.100.7", breakGlass: true), baseline: Self.alice)
        #expect(assessment.names == ["new_source_ip", "break_glass"])
        #expect(assessment.score == 100)
    }

    @Test("the hour of the week is counted from Monday 00:00 in the zone")
    func hourOfWeek() {
        #expect(HourOfWeek.of(Self.monday, in: Self.utc) == 0)
        #expect(HourOfWeek.of(Self.at(day: 6, hour: 23), in: Self.utc) == 167)
        #expect(HourOfWeek.of(Self.monday.addingTimeInterval(-1800), in: TimeZone(identifier: "Europe/Berlin")!) == 0)
        #expect(HourOfWeek.describe(27) == "Tuesday 03:00")
        // The same as a calendar says, across a year of hours in zones with daylight saving and odd offsets, and
        // before 1970.
        for zone in ["UTC", "Europe/Berlin", "America/New_York", "Asia/Kolkata", "Australia/Lord_Howe"] {
            let timeZone = TimeZone(identifier: zone)!
            var calendar = Calendar(identifier: .gregorian)
            calendar.timeZone = timeZone
            for step in stride(from: -200 * 86_400, to: 366 * 86_400, by: 3_599) {
                let date = Self.monday.addingTimeInterval(TimeInterval(step))
                let parts = calendar.dateComponents([.weekday, .hour], from: date)
                let expected = ((parts.weekday! + 5) % 7) * 24 + parts.hour!
                #expect(HourOfWeek.of(date, in: timeZone) == expected, "\(zone) \(date)")
            }
            let early = Date(timeIntervalSince1970: -86_400 * 3 - 1800)  // Monday 29 December 1969, 23:30 UTC
            let parts = calendar.dateComponents([.weekday, .hour], from: early)
            #expect(HourOfWeek.of(early, in: timeZone) == ((parts.weekday! + 5) % 7) * 24 + parts.hour!, "\(zone)")
        }
    }

    @Test("alerts: a score over the threshold by its severity, alerting signals whatever the score, repeated activation of a sensitive role; a quiet request none")
    func anomalies() {
        #expect(scorer.assess(Self.facts(at: Self.at(day: 2, hour: 10), from: "10.1.7.33"), baseline: Self.alice).anomaly == nil)

        // 35 (new network, off hours) is below 50: no alert; with break-glass it is critical whatever the score.
        let night = scorer.assess(Self.facts(at: Self.at(day: 1, hour: 3), from: "198.51.100.7"), baseline: Self.alice)
        #expect(night.anomaly == nil)
        let glass = scorer.assess(
            Self.facts(at: Self.at(day: 1, hour: 3), from: "198.51.100.7", breakGlass: true), baseline: Self.alice)
        #expect(glass.score == 65)
        #expect(glass.anomaly?.severity == .critical)
        #expect(glass.anomaly?.reasons == ["risk score 65 reaches the alert threshold 50", "break_glass: break-glass request"])

        var busy = Self.alice
        busy.recentRequests = 19
        let burst = scorer.assess(Self.facts(at: Self.at(day: 2, hour: 10), from: "10.1.7.33"), baseline: busy)
        #expect(burst.names == ["burst"])
        #expect(burst.anomaly?.severity == .high)
        #expect(burst.anomaly?.reasons.first?.hasPrefix("burst: 20 requests in 1 minute") == true, "\(burst)")

        var habit = Self.alice
        habit.activations = 4
        let repeated = scorer.assess(
            RiskFacts(principalKind: .user, mfaAgeSeconds: 300, resource: "orders-db", sensitivity: 7, sourceIP: "10.1.7.33",
                      breakGlass: false, at: Self.at(day: 2, hour: 10), role: "readwrite"), baseline: habit)
        #expect(repeated.score == 0)
        #expect(repeated.anomaly?.severity == .medium)
        #expect(repeated.anomaly?.reasons == [
            "orders-db readwrite (sensitivity 7): 5 activations in 30 days, this one included: standing access in disguise"])
        habit.activations = 3
        #expect(scorer.assess(Self.facts(at: Self.at(day: 2, hour: 10), from: "10.1.7.33"), baseline: habit).anomaly == nil)

        #expect(RiskScorer.severity(score: 100) == .critical && RiskScorer.severity(score: 60) == .high)
        #expect(RiskScorer.severity(score: 45) == .medium && RiskScorer.severity(score: 10) == .low)
    }
}
