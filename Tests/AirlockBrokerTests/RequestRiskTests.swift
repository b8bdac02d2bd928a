import AirlockBroker
import AirlockCore
import AirlockPolicy
import AirlockRisk
import AirlockStore
import AirlockTestSupport
import Foundation
import Testing

/// Issue 15, item 1, below HTTP: the risk engine (the principal's baseline and active external signals in
/// PostgreSQL, scored by `RiskScorer`) decides with the policy, and the assessment, with each signal's weight and
/// why it fired, is recorded with the request and in its audit event.
@Suite(.serialized, .timeLimit(.minutes(2)))
struct RequestRiskTests {
    static let resourcesFile = #"""
        {"resources": [{"id": "orders-db", "kind": "memo", "env": "prod", "owner": "payments", "sensitivity": 3,
          "roles": {"readonly": {}}},
         {"id": "payroll-db", "kind": "memo", "env": "prod", "owner": "finance", "sensitivity": 8,
          "roles": {"readwrite": {}}}]}
        """#
    static let policy = """
        permit "readers" when resource.env == "prod" ttl <= 1h;
        forbid "risky" when risk.score >= 30;
        forbid "compromised" when "device_compromised" in risk.signals;
        """
    /// Friday 2027-01-01 10:00 UTC.
    static let fridayMorning = Date(timeIntervalSince1970: 1_798_797_600)
    /// From then to Monday 2027-01-04 03:00 UTC.
    static let untilMondayNight: TimeInterval = 234_000
    /// From Monday 03:00 to Tuesday 2027-01-05 10:00 UTC.
    static let untilTuesdayMorning: TimeInterval = 111_600
    static let alice = Principal(id: "alice", kind: .user, groups: ["payments"], mfaAgeSeconds: 60)

    struct Fixture {
        let requests: AccessRequests
        let store: AccessRequestStore
        let signals: SignalStore
        let clock: TestClock
    }

    static func fixture(_ database: Database) async throws -> Fixture {
        let clock = TestClock(fridayMorning)
        let policySet = try ActivePolicySet.load(files: ["main.airlock": policy], id: UUID(), directory: "")
        try await database.client.query("""
            INSERT INTO policy_sets (id, digest, files, status) VALUES (\(policySet.id), \(policySet.digest), '{}', 'loaded')
            """, logger: TestDatabase.logger)
        let auditLog = AuditLog(source: "airlock-test", clock: clock)
        let store = AccessRequestStore(database: database, auditLog: auditLog, clock: clock, logger: TestDatabase.logger)
        let signals = SignalStore(database: database, auditLog: auditLog, clock: clock, logger: TestDatabase.logger)
        let catalog = try ResourceCatalog.parse(
            Data(resourcesFile.utf8), environment: [:], providedKinds: [Resource.Kind(rawValue: "memo")!])
        let utc = TimeZone(identifier: "UTC")!
        let assessor = BaselineRiskAssessor(
            store: RiskBaselineStore(database: database, logger: TestDatabase.logger),
            scorer: RiskScorer(timeZone: utc), clock: clock, logger: TestDatabase.logger)
        let decider = AccessDecider(
            catalog: catalog, policies: LoadedPolicies(policySet), maximumTTLSeconds: 3600, risk: assessor,
            clock: clock, timeZone: utc, logger: TestDatabase.logger)
        return Fixture(requests: AccessRequests(decider: decider, store: store), store: store, signals: signals, clock: clock)
    }

    static func ask(from ip: String) -> Ask {
        Ask(resource: "orders-db", role: "readonly", ttlSeconds: 600, reason: "INC-7", sourceIP: ip)
    }

    @Test("after a day-time request from her office, 03:00 from a new network scores high and the forbid applies; a Tuesday morning from that network scores low")
    func offHoursAndNewNetwork() async throws {
        try await TestDatabase.withDatabase { database in
            let fixture = try await Self.fixture(database)
            // A newcomer's first request: no network on record to depart from, business hours.
            let first = try await fixture.requests.ask(Self.ask(from: "10.1.2.3"), by: Self.alice)
            #expect(first.risk.signals.map(\.name) == ["first_use_of_resource"], "\(first.risk)")
            #expect(first.decision.outcome == .permit)

            fixture.clock.advance(Self.untilMondayNight)
            let night = try await fixture.requests.ask(Self.ask(from: "203.0.113.7"), by: Self.alice)
            let names = night.risk.signals.map(\.name)
            #expect(names.contains("off_hours") && names.contains("new_source_ip"), "\(night.risk)")
            #expect(night.risk.score >= 35)
            #expect(night.decision.outcome == .deny)
            #expect(night.decision.rules.contains("risky"))
            let network = try #require(night.risk.signals.first { $0.name == "new_source_ip" })
            #expect(network.detail.contains("203.0.113.0/24"), "\(network.detail)")
            #expect(network.weight == RiskSettings().weight(of: .newSourceIP))

            // Recorded with the request, and in its audit event, exactly as decided.
            let record = try #require(try await fixture.store.get(night.id))
            #expect(record.risk == night.risk)
            let events = try await AuditReader.events(in: database, type: "airlock.access.requested")
            let requested = try #require(events.first { $0.subject == night.id.uuidString.lowercased() })
            let data = try #require(try JSONValue.parse(Data(requested.event.utf8))["data"])
            #expect(data["risk"] == night.risk.json)
            #expect(RiskAssessment(json: night.risk.json) == night.risk)

            // Same network (now known), business hours: neither signal, a lower score, permitted.
            fixture.clock.advance(Self.untilTuesdayMorning)
            let morning = try await fixture.requests.ask(Self.ask(from: "203.0.113.9"), by: Self.alice)
            #expect(!morning.risk.signals.contains { $0.name == "off_hours" || $0.name == "new_source_ip" }, "\(morning.risk)")
            #expect(morning.risk.score < night.risk.score)
            #expect(morning.decision.outcome == .permit)
        }
    }

    @Test("an active external signal counts in every decision for its principal until withdrawn or expired, and no one else's")
    func externalSignal() async throws {
        try await TestDatabase.withDatabase { database in
            let fixture = try await Self.fixture(database)
            let signal = try await fixture.signals.add(
                principal: "alice", name: "device_compromised", severity: .high, detail: nil, ttlSeconds: 300,
                source: "edr", logger: TestDatabase.logger)
            let flagged = try await fixture.requests.whatIf(Self.ask(from: "10.1.2.3"), for: Self.alice).0
            #expect(flagged.risk.signals.contains { $0.name == "device_compromised" && $0.weight == 50 }, "\(flagged.risk)")
            #expect(flagged.decision.outcome == .deny)
            #expect(flagged.decision.rules.contains("compromised"))

            let bob = Principal(id: "bob", kind: .user, groups: ["payments"], mfaAgeSeconds: 60)
            let other = try await fixture.requests.whatIf(Self.ask(from: "10.1.2.3"), for: bob).0
            #expect(!other.risk.signals.contains { $0.name == "device_compromised" })

            _ = try await fixture.signals.withdraw(signal.id, by: "secops", logger: TestDatabase.logger)
            let cleared = try await fixture.requests.whatIf(Self.ask(from: "10.1.2.3"), for: Self.alice).0
            #expect(!cleared.risk.signals.contains { $0.name == "device_compromised" })
        }
    }

    @Test("a baseline that cannot be read scores 100 and names why, instead of waving the request through")
    func unavailable() async throws {
        try await TestDatabase.withDatabase { database in
            let fixture = try await Self.fixture(database)
            try await database.client.query("ALTER TABLE risk_baselines RENAME TO risk_baselines_away", logger: TestDatabase.logger)
            let decided = try await fixture.requests.whatIf(Self.ask(from: "10.1.2.3"), for: Self.alice).0
            #expect(decided.risk.score == 100)
            #expect(decided.risk.signals.map(\.name) == ["risk_unavailable"])
            #expect(decided.decision.outcome == .deny)
        }
    }

    /// The `airlock.anomaly.detected` events recorded, parsed.
    static func anomalies(_ database: Database) async throws -> [JSONValue] {
        try await AuditReader.events(in: database, type: "airlock.anomaly.detected").map {
            try JSONValue.parse(Data($0.event.utf8))
        }
    }

    @Test("twenty requests in a minute: from the tenth on each is flagged burst and alerted, naming the principal, the request and each signal")
    func burstIsAlerted() async throws {
        try await TestDatabase.withDatabase { database in
            let fixture = try await Self.fixture(database)
            var asked: [RecordedAsk] = []
            for _ in 1...20 {
                asked.append(try await fixture.requests.ask(Self.ask(from: "10.1.2.3"), by: Self.alice))
                fixture.clock.advance(2)
            }
            let flagged = asked.enumerated().filter { $0.element.risk.signals.contains { $0.name == "burst" } }.map(\.offset)
            #expect(flagged == Array(9..<20), "\(asked.map(\.risk))")
            let alerts = try await Self.anomalies(database)
            #expect(alerts.count == 11)
            let tenth = try #require(alerts.first)
            #expect(tenth["subject"]?.stringValue == asked[9].id.uuidString.lowercased())
            let data = try #require(tenth["data"])
            #expect(data["severity"] == "high" && data["channels"] == ["security"])
            #expect(data["principal"] == "alice" && data["request_id"]?.stringValue == asked[9].id.uuidString.lowercased())
            #expect(data["resource"] == "orders-db" && data["role"] == "readonly")
            #expect(data["signals"] == asked[9].risk.json["signals"])
            #expect(data["reasons"]?.arrayValue?.first?.stringValue?.hasPrefix("burst: 10 requests in 1 minute") == true, "\(data)")
        }
    }

    @Test("the same sensitive role activated a fifth time within 30 days alerts as standing access in disguise; a less sensitive one does not")
    func repeatedActivation() async throws {
        try await TestDatabase.withDatabase { database in
            let fixture = try await Self.fixture(database)
            let payroll = Ask(resource: "payroll-db", role: "readwrite", ttlSeconds: 600, reason: "INC-7", sourceIP: "10.1.2.3")
            for day in 1...4 {
                let earlier = try await fixture.requests.ask(payroll, by: Self.alice)
                #expect(earlier.risk.anomaly == nil, "day \(day): \(earlier.risk)")
                // As if picked up (the status issuance gives it): an activation.
                try await database.client.query(
                    "UPDATE access_requests SET status = 'issued' WHERE id = \(earlier.id)", logger: TestDatabase.logger)
                fixture.clock.advance(86_400)
            }
            let fifth = try await fixture.requests.ask(payroll, by: Self.alice)
            let reason = try #require(fifth.risk.anomaly?.reasons.first, "\(fifth.risk)")
            #expect(reason.contains("payroll-db readwrite (sensitivity 8): 5 activations in 30 days"))
            #expect(try await Self.anomalies(database).count == 1)
            // orders-db (sensitivity 3) as often: no such alert.
            for _ in 1...5 {
                let read = try await fixture.requests.ask(Self.ask(from: "10.1.2.3"), by: Self.alice)
                try await database.client.query(
                    "UPDATE access_requests SET status = 'issued' WHERE id = \(read.id)", logger: TestDatabase.logger)
            }
            #expect(try await Self.anomalies(database).count == 1)
        }
    }
}
