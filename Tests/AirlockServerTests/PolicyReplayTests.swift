import AirlockBroker
import AirlockCore
import AirlockPolicy
import AirlockServer
import AirlockStore
import AirlockTestSupport
import Foundation
import Testing

/// `PolicyReplay` over a real history: 180 requests decided under the example `Policies/` and stored, then
/// re-decided under copies of `Policies/` with one rule tightened. The expected changes are computed here from
/// the inputs' attributes, not by evaluating policies.
@Suite(.serialized)
struct PolicyReplayTests {
    static let examplePolicies = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Policies")

    /// One generated request: the attributes the expectations read, and the stored policy input.
    struct Sample {
        var index: Int
        var kind: String
        var groups: [String]
        var mfaAge: Int64?
        var onCall: Bool
        var resource: Resource
        var role: String
        var ttl: Int64
        var reason: String
        var breakGlass: Bool
        var hour: Int64
        var weekday: String
        var sourceIP: String
        var riskScore: Int64
        var daysAgo: Int

        var input: JSONValue {
            var principal: [String: JSONValue] = [
                "id": .string("p\(index)"), "kind": .string(kind), "groups": .array(groups.map { .string($0) }),
                "on_call": .bool(onCall),
            ]
            if let mfaAge { principal["mfa_age"] = .int(mfaAge) }
            return .object([
                "principal": .object(principal),
                "resource": .object([
                    "id": .string(resource.id), "kind": .string(resource.kind.rawValue), "env": .string(resource.env),
                    "owner": .string(resource.owner), "sensitivity": .int(Int64(resource.sensitivity)),
                    "tags": .array(resource.tags.map { .string($0) }),
                ]),
                "request": .object([
                    "role": .string(role), "ttl": .int(ttl), "reason": .string(reason), "break_glass": .bool(breakGlass),
                    "hour": .int(hour), "weekday": .string(weekday), "source_ip": .string(sourceIP),
                ]),
                "risk": .object(["score": .int(riskScore), "signals": .array([])]),
            ])
        }

        var principal: Principal {
            Principal(id: "p\(index)", kind: kind == "service" ? .service : .user, groups: groups,
                      mfaAgeSeconds: mfaAge, onCall: onCall)
        }

        // MARK: What the example policies say, written out by hand

        var isUser: Bool { kind == "user" }
        var corporate: Bool { sourceIP.hasPrefix("10.") || sourceIP.hasPrefix("192.168.") || sourceIP.hasPrefix("127.") }
        var forbidden: Bool {
            !corporate || riskScore >= 70 || (groups.contains("contractors") && resource.env == "prod")
                || (!isUser && resource.env == "prod" && ["readwrite", "write"].contains(role))
        }
        var breakGlassApplies: Bool { isUser && breakGlass && onCall && reason.hasPrefix("INC-") }
        var businessHours: Bool { hour >= 8 && hour < 18 && !["sat", "sun"].contains(weekday) }
        func sreReadonly(mfaWithin limit: Int64) -> Bool {
            isUser && groups.contains("sre") && resource.env == "prod" && ["readonly", "read"].contains(role)
                && riskScore < 30 && (mfaAge.map { $0 <= limit } ?? false) && businessHours
        }
        /// The largest TTL cap among the applying staging permits, with `staging-engineers` capped at `cap`.
        func stagingCap(engineers cap: Int64) -> Int64? {
            guard resource.env == "staging", !forbidden else { return nil }
            var caps: [Int64] = []
            if isUser && !Set(groups).isDisjoint(with: ["backend", "sre", "dba"]) { caps.append(cap) }
            if isUser && groups.contains("contractors") { caps.append(4 * 3600) }
            if !isUser && groups.contains("ci") { caps.append(30 * 60) }
            if breakGlassApplies { caps.append(3600) }
            return caps.max()
        }
    }

    static let ordersDB = Resource(id: "orders-db", kind: .postgres, env: "prod", owner: "payments", sensitivity: 7,
                                   tags: ["orders", "pii"], roles: [:])
    static let ordersStaging = Resource(id: "orders-staging", kind: .postgres, env: "staging", owner: "payments",
                                        sensitivity: 3, tags: ["orders"], roles: [:])
    static let paymentsAPI = Resource(id: "payments-api", kind: .token, env: "prod", owner: "payments",
                                      sensitivity: 8, tags: ["payments"], roles: [:])

    /// Varied requests: each attribute cycles with its own period, so the combinations spread widely.
    static func samples(count: Int) -> [Sample] {
        let groups: [[String]] = [["sre"], ["backend"], ["dba"], ["contractors"], ["ci"], ["sre", "db-owners"],
                                  ["backend", "contractors"], ["security"], ["sre"]]
        let mfa: [Int64?] = [600, 60, 900, 1200, nil, 600, 240]
        let resources = [ordersDB, ordersStaging, paymentsAPI, ordersStaging, ordersDB]
        let ttls: [Int64] = [600, 1800, 3600, 14400, 28800, 7200, 10800]
        let hours: [Int64] = [10, 3, 15, 20, 9, 17]
        let ips = ["10.1.2.3", "192.168.4.5", "203.0.113.9", "127.0.0.1", "10.9.9.9", "10.0.0.1", "10.2.0.7"]
        return (0..<count).map { index in
            let resource = resources[index % resources.count]
            let roles = resource.kind == .token ? ["read", "write"] : ["readonly", "readwrite", "readonly"]
            return Sample(
                index: index, kind: index % 11 == 4 ? "service" : "user", groups: groups[index % groups.count],
                mfaAge: mfa[index % mfa.count], onCall: index % 4 == 1, resource: resource,
                role: roles[index % roles.count], ttl: ttls[index % ttls.count],
                reason: index % 3 == 0 ? "INC-\(index)" : "routine work", breakGlass: index % 8 == 1,
                hour: hours[index % hours.count], weekday: index % 10 == 7 ? "sat" : "tue",
                sourceIP: ips[index % ips.count], riskScore: index % 13 == 6 ? 80 : (index % 13 == 9 ? 40 : 0),
                daysAgo: index % 9)
        }
    }

    /// Decides every sample under the example policies and stores it, `daysAgo` days (and a few minutes) back.
    static func store(_ samples: [Sample], in database: Database, now: Date) async throws {
        let policies = try load(examplePolicies)
        for sample in samples {
            let input = sample.input
            let decision = policies.evaluate(try policies.decodeInput(jsonLine: input.canonicalString()))
            let clock = TestClock(now.addingTimeInterval(-Double(sample.daysAgo * 86_400 + sample.index * 60)))
            let store = AccessRequestStore(
                database: database, auditLog: AuditLog(source: "/airlock/test", clock: clock), clock: clock,
                logger: TestDatabase.logger)
            _ = try await store.create(
                NewAccessRequest(principal: sample.principal, resourceID: sample.resource.id, role: sample.role,
                                 ttlSeconds: Int(sample.ttl), reason: sample.reason, breakGlass: sample.breakGlass,
                                 sourceIP: sample.sourceIP),
                resource: sample.resource, decision: try Decision(stored: JSONValue.parse(decision.json)),
                evaluationInput: input, policySetID: nil)
        }
    }

    /// A copy of the example policies, with `old` replaced by `new` once in `file` when an edit is given.
    static func copyOfPolicies(editing file: String? = nil, replacing old: String = "", with new: String = "") throws -> URL {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("airlock-replay-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        for name in try FileManager.default.contentsOfDirectory(atPath: examplePolicies.path) where name.hasSuffix(".airlock") {
            var text = try String(contentsOf: examplePolicies.appendingPathComponent(name), encoding: .utf8)
            if name == file {
                guard let range = text.range(of: old) else { throw TestFailure("`\(old)` is not in \(name)") }
                text.replaceSubrange(range, with: new)
            }
            try Data(text.utf8).write(to: directory.appendingPathComponent(name))
        }
        return directory
    }

    /// The policy set in `directory`.
    static func load(_ directory: URL) throws -> PolicySet {
        switch PolicySet.load(directory: directory) {
        case .success(let policies): return policies
        case .failure(let error): throw TestFailure(error.description)
        }
    }

    struct TestFailure: Error, CustomStringConvertible {
        let description: String
        init(_ description: String) { self.description = description }
    }

    @Test(.timeLimit(.minutes(3)))
    func reportsExactlyTheDecisionsATightenedRuleChanges() async throws {
        let samples = Self.samples(count: 180)
        let now = Date()
        let since = now.addingTimeInterval(-7 * 86_400)
        let recent = samples.filter { $0.daysAgo < 7 }
        #expect(recent.count >= 100)
        let byPrincipal = Dictionary(uniqueKeysWithValues: samples.map { ("p\($0.index)", $0) })

        try await TestDatabase.withDatabase { database in
            try await Self.store(samples, in: database, now: now)
            let history = AccessRequestHistory(database: database, logger: TestDatabase.logger)

            // An unchanged copy changes nothing, read in pages of any size.
            let same = PolicyReplay(policies: try Self.load(try Self.copyOfPolicies()))
            for pageSize in [7, 500] {
                let report = try await same.run(history, since: since, pageSize: pageSize)
                #expect(report.examined == recent.count)
                #expect(!report.hasChanges, "\(report.changes.map(\.change))")
            }

            // SREs now need a second factor within 5 minutes: permits with an older one become default denies.
            let mfa = PolicyReplay(policies: try Self.load(try Self.copyOfPolicies(
                editing: "production.airlock", replacing: "principal.mfa_age <= 15m", with: "principal.mfa_age <= 5m")))
            let mfaReport = try await mfa.run(history, since: since, pageSize: 50)
            let mfaExpected = Set(recent.filter {
                !$0.forbidden && !$0.breakGlassApplies && $0.sreReadonly(mfaWithin: 900) && !$0.sreReadonly(mfaWithin: 300)
            }.map { "p\($0.index)" })
            #expect(mfaExpected.count >= 3, "the samples should exercise the rule")
            #expect(Set(mfaReport.changes.map(\.request.principalID)) == mfaExpected)
            #expect(mfaReport.changes.count == mfaExpected.count)
            #expect(mfaReport.failures.isEmpty)
            for change in mfaReport.changes {
                #expect(change.change.aspects == [.outcome])
                #expect(change.change.before.outcome == .permit && change.change.before.rules == ["sre-prod-readonly"])
                #expect(change.change.after.outcome == .deny && change.change.after.rules.isEmpty)
            }

            // Engineers get staging for 2 hours instead of 8: only longer asks without a larger cap elsewhere change.
            let ttl = PolicyReplay(policies: try Self.load(try Self.copyOfPolicies(
                editing: "staging.airlock", replacing: "ttl <= 8h", with: "ttl <= 2h")))
            let ttlReport = try await ttl.run(history, since: since)
            var ttlExpected: [String: (Int64, Int64)] = [:]
            for sample in recent {
                guard let old = sample.stagingCap(engineers: 8 * 3600), let new = sample.stagingCap(engineers: 2 * 3600)
                else { continue }
                if min(sample.ttl, old) != min(sample.ttl, new) {
                    ttlExpected["p\(sample.index)"] = (min(sample.ttl, old), min(sample.ttl, new))
                }
            }
            #expect(ttlExpected.count >= 3, "the samples should exercise the rule")
            #expect(Set(ttlReport.changes.map(\.request.principalID)) == Set(ttlExpected.keys))
            for change in ttlReport.changes {
                let (old, new) = try #require(ttlExpected[change.request.principalID])
                #expect(change.change.aspects == [.ttl])
                #expect(change.change.before.ttlSeconds == old && change.change.after.ttlSeconds == new)
                #expect(change.change.after.outcome == .permit)
                #expect(byPrincipal[change.request.principalID]?.resource.env == "staging")
            }

            // Newest first; `limit` takes the most recent.
            let limited = try await ttl.run(history, since: since, limit: 10, pageSize: 3)
            #expect(limited.examined == 10)
            let newest = Set(recent.sorted { ($0.daysAgo, $0.index) < ($1.daysAgo, $1.index) }.prefix(10).map { "p\($0.index)" })
            #expect(Set(limited.changes.map(\.request.principalID)).isSubset(of: newest))
            let times = ttlReport.changes.map(\.request.createdAt)
            #expect(times == times.sorted(by: >))
        }
    }
}
