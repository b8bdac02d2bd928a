import AirlockBroker
import AirlockCore
import AirlockRisk
import AirlockStore
import AirlockTestSupport
import Foundation
import Testing

/// Baselines kept by trigger in the transaction of each request and decision (migration 0015), read in one round
/// trip, and scored (issue 15, items 1 and 2).
@Suite(.timeLimit(.minutes(3)))
struct RiskBaselineTests {
    static let start = ProviderSeamTests.start  // Friday 15 January 2027, 08:00 UTC
    static let bob = Principal(id: "bob", kind: .user, groups: ["docs"])
    static let carol = Principal(id: "carol", kind: .user, groups: ["sales"])

    static func query(_ principal: Principal, ip: String?, at: Date) -> RiskBaselineStore.Query {
        RiskBaselineStore.Query(
            principal: principal.id, groups: principal.groups, resource: "notes", sourceIP: ip, at: at,
            hoursSince: at.addingTimeInterval(-90 * 86_400), hourOfWeek: HourOfWeek.of(at, in: TimeZone(identifier: "UTC")!),
            burstWindowSeconds: 60)
    }

    static func ask(from ip: String) -> Ask {
        Ask(resource: "notes", role: "reader", ttlSeconds: 300, reason: "runbook", sourceIP: ip)
    }

    @Test("requests and decisions build the baseline; the assessor scores a request against it")
    func builtByRequests() async throws {
        try await TestDatabase.withDatabase { database in
            let clock = TestClock(Self.start)
            let broker = try await ProviderSeamTests.broker(database, clock: clock)
            let store = RiskBaselineStore(database: database, logger: TestDatabase.logger)
            #expect(try await store.baseline(Self.query(ProviderSeamTests.alice, ip: "10.1.2.3", at: clock.now())) == .newcomer)

            for index in 1...5 {
                let recorded = try await broker.requests.ask(Self.ask(from: "10.1.2.\(index)"), by: ProviderSeamTests.alice)
                #expect(recorded.status == .approved)
                clock.advance(10)
            }
            for _ in 1...3 {  // not in `docs`: denied
                #expect(try await broker.requests.ask(Self.ask(from: "192.0.2.1"), by: Self.carol).status == .denied)
            }
            let alice = try await store.baseline(Self.query(ProviderSeamTests.alice, ip: "10.1.2.200", at: clock.now()))
            #expect(alice.hourOfWeek[4 * 24 + 8] == 5 && alice.hourOfWeek.total == 5)
            #expect(alice.networks == ["10.1.2.0/24": Self.start.addingTimeInterval(40)])
            #expect(alice.resourcesUsed == ["notes"])
            #expect(alice.recentRequests == 5)
            #expect(alice.denialStreak == 0)
            #expect(alice.peers == 0)
            let carol = try await store.baseline(Self.query(Self.carol, ip: "192.0.2.9", at: clock.now()))
            #expect(carol.denialStreak == 3 && carol.resourcesUsed.isEmpty)
            #expect(carol.networks == ["192.0.2.0/24": Self.start.addingTimeInterval(50)])

            // Bob shares `docs` with alice, who has the access: one peer of one.
            let bob = try await store.baseline(Self.query(Self.bob, ip: nil, at: clock.now()))
            #expect(bob.peers == 1 && bob.peersWithAccess == 1 && bob.resourcesUsed.isEmpty)

            // Erin is in both groups and gets the access: dave, also in both, counts her once among his peers
            // (alice, carol, erin) and once among those with the access (alice, erin).
            let erin = Principal(id: "erin", kind: .user, groups: ["docs", "sales"])
            #expect(try await broker.requests.ask(Self.ask(from: "10.9.9.9"), by: erin).status == .approved)
            let dave = try await store.baseline(Self.query(
                Principal(id: "dave", kind: .user, groups: ["docs", "sales"]), ip: nil, at: clock.now()))
            #expect(dave.peers == 3 && dave.peersWithAccess == 2, "\(dave.peers) \(dave.peersWithAccess)")
            // In one group: the same counts as through the duplicate-removing path.
            let docsOnly = try await store.baseline(Self.query(Self.bob, ip: nil, at: clock.now()))
            #expect(docsOnly.peers == 2 && docsOnly.peersWithAccess == 2, "\(docsOnly.peers) \(docsOnly.peersWithAccess)")

            let assessor = BaselineRiskAssessor(
                store: store, scorer: RiskScorer(timeZone: TimeZone(identifier: "UTC")!), clock: clock,
                logger: TestDatabase.logger)
            let resource = try #require(broker.requests.decider.catalog["notes"])
            var mfa = ProviderSeamTests.alice
            mfa.mfaAgeSeconds = 60
            let usual = await assessor.assess(principal: mfa, resource: resource, ask: Self.ask(from: "10.1.2.77"))
            // Five requests are too little history for the hours: the prior says Friday 08:00 is a working hour.
            #expect(usual == .none, "\(usual)")
            let elsewhere = await assessor.assess(principal: mfa, resource: resource, ask: Self.ask(from: "203.0.113.5"))
            #expect(elsewhere.names.contains("new_source_ip"), "\(elsewhere)")

            // IPv6 is judged by its /64 in the database as in the scorer; no address, no network.
            _ = try await broker.requests.ask(Self.ask(from: "2001:db8:1:2:aaaa::1"), by: ProviderSeamTests.alice)
            let v6 = try await store.baseline(Self.query(ProviderSeamTests.alice, ip: "2001:db8:1:2:bbbb::9", at: clock.now()))
            #expect(v6.networks == ["2001:db8:1:2::/64": clock.now()], "\(v6.networks)")
            #expect(try await store.baseline(Self.query(ProviderSeamTests.alice, ip: nil, at: clock.now())).networks.isEmpty)
        }
    }

    @Test("two brokers recording at once keep the baseline exact (no lost update)")
    func twoReplicas() async throws {
        try await TestDatabase.withDatabase { database in
            let clock = TestClock(Self.start)
            let first = try await ProviderSeamTests.broker(database, clock: clock)
            try await TestDatabase.withExisting(database.url) { other in
                let second = try await ProviderSeamTests.broker(other, clock: clock)
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for broker in [first, second] {
                        for index in 0..<4 {
                            group.addTask {
                                for request in 0..<10 {
                                    _ = try await broker.requests.ask(
                                        Self.ask(from: "10.\(index).\(request).1"), by: ProviderSeamTests.alice)
                                }
                            }
                        }
                    }
                    try await group.waitForAll()
                }
            }
            let store = RiskBaselineStore(database: database, logger: TestDatabase.logger)
            let alice = try await store.baseline(Self.query(ProviderSeamTests.alice, ip: nil, at: clock.now()))
            #expect(alice.hourOfWeek.total == 80 && alice.hourOfWeek[4 * 24 + 8] == 80)
            #expect(alice.recentRequests == 80)
            let counters = try await database.client.query(
                "SELECT requests, (SELECT grants FROM risk_grants WHERE principal_id = 'alice') FROM risk_baselines WHERE principal_id = 'alice'",
                logger: TestDatabase.logger)
            for try await (requests, grants) in counters.decode((Int64, Int32).self) {
                #expect(requests == 80 && grants == 80)
            }
            // Bounded: 40 networks seen, all kept (the limit is 64); none past it.
            let networks = try await database.client.query(
                "SELECT count(*) FROM risk_networks WHERE principal_id = 'alice'", logger: TestDatabase.logger)
            for try await count in networks.decode(Int64.self) { #expect(count == 40) }
            // The peers' table holds exactly each member's grants in each group, whichever transaction came first.
            let peers = try await database.client.query("""
                SELECT (SELECT count(*) FROM risk_group_grants),
                       (SELECT count(*) FROM risk_group_members m JOIN risk_grants g USING (principal_id)),
                       (SELECT count(*) FROM (SELECT group_name, resource_id, principal_id FROM risk_group_grants
                                              EXCEPT SELECT m.group_name, g.resource_id, m.principal_id
                                              FROM risk_group_members m JOIN risk_grants g USING (principal_id)) AS extra)
                """, logger: TestDatabase.logger)
            for try await (kept, expected, extra) in peers.decode((Int64, Int64, Int64).self) {
                #expect(kept == expected && expected > 0 && extra == 0)
            }
        }
    }

    @Test("the hours' window: totals in one row, less the weeks before the window; weeks leave the totals once, whichever replica removes them")
    func hoursWindow() async throws {
        try await TestDatabase.withDatabase { database in
            let clock = TestClock(Self.start.addingTimeInterval(-120 * 86_400))  // a Thursday, 08:00
            let first = try await ProviderSeamTests.broker(database, clock: clock)
            for index in 0..<3 {
                _ = try await first.requests.ask(Self.ask(from: "10.0.0.\(index)"), by: ProviderSeamTests.alice)
            }
            clock.advance(70 * 86_400)  // 50 days before the start, a Thursday
            for index in 0..<2 {
                _ = try await first.requests.ask(Self.ask(from: "10.0.1.\(index)"), by: ProviderSeamTests.alice)
            }
            clock.advance(50 * 86_400)  // the start: Friday 08:00
            let store = RiskBaselineStore(database: database, logger: TestDatabase.logger)
            func hours(days: Double) async throws -> (total: Int, thursday: Int, friday: Int) {
                var query = Self.query(ProviderSeamTests.alice, ip: nil, at: clock.now())
                query.hoursSince = clock.now().addingTimeInterval(-days * 86_400)
                query.hourOfWeek = 3 * 24 + 8
                let thursday = try await store.baseline(query).hourOfWeek
                query.hourOfWeek = 4 * 24 + 8
                let friday = try await store.baseline(query).hourOfWeek
                return (thursday.total, thursday[3 * 24 + 8], friday[4 * 24 + 8])
            }
            // Alice has not asked since: the week 120 days back is still kept, and left out of the 90 days' read.
            #expect(try await hours(days: 90) == (2, 2, 0))
            #expect(try await hours(days: 200) == (5, 5, 0))
            #expect(try await hours(days: 30) == (0, 0, 0))

            // Two brokers record at once; each recording removes the weeks older than 13 (the one 120 days back).
            try await TestDatabase.withExisting(database.url) { other in
                let second = try await ProviderSeamTests.broker(other, clock: clock)
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for broker in [first, second] {
                        for index in 0..<3 {
                            group.addTask {
                                for request in 0..<5 {
                                    _ = try await broker.requests.ask(
                                        Self.ask(from: "10.\(index).\(request).9"), by: ProviderSeamTests.alice)
                                }
                            }
                        }
                    }
                    try await group.waitForAll()
                }
            }
            #expect(try await hours(days: 90) == (32, 2, 30))
            #expect(try await hours(days: 200) == (32, 2, 30))
            #expect(try await hours(days: 30) == (30, 0, 30))
            // The totals' row is exactly the sum of the weeks kept, and the old week is gone.
            let kept = try await database.client.query("""
                SELECT t.requests, t.by_hour[3 * 24 + 9], t.by_hour[4 * 24 + 9],
                       (SELECT sum(c) FROM unnest(t.by_hour) AS c)::int8,
                       (SELECT sum(w.requests) FROM risk_hour_weeks w WHERE w.principal_id = t.principal_id)::int8,
                       (SELECT count(*) FROM risk_hour_weeks w WHERE w.principal_id = t.principal_id)
                FROM risk_hour_totals t WHERE t.principal_id = 'alice'
                """, logger: TestDatabase.logger)
            var rows = 0
            for try await (requests, thursday, friday, slots, weeks, weekRows) in kept.decode(
                (Int32, Int32, Int32, Int64, Int64, Int64).self
            ) {
                rows += 1
                #expect(requests == 32 && thursday == 2 && friday == 30 && slots == 32 && weeks == 32 && weekRows == 2)
            }
            #expect(rows == 1)
        }
    }

    @Test("a group of 2,500: one group is counted exactly from its totals; several are counted up to 1000, the holders among those counted")
    func largeGroup() async throws {
        try await TestDatabase.withDatabase { database in
            // 2,500 people in `everyone`, every twelfth of them granted `notes` (209 of 2,500: about 8 %); `ops`
            // shares p0001 with it and adds two more.
            try await database.client.query("""
                INSERT INTO risk_group_members (group_name, principal_id, last_seen_at)
                SELECT 'everyone', 'p' || lpad(n::text, 4, '0'), now() FROM generate_series(0, 2499) AS n
                UNION ALL SELECT 'ops', principal, now() FROM unnest(ARRAY['p0001', 'p3000', 'p3001']) AS principal
                """, logger: TestDatabase.logger)
            try await database.client.query("""
                INSERT INTO risk_grants (principal_id, resource_id, grants, last_granted_at)
                SELECT 'p' || lpad(n::text, 4, '0'), 'notes', 1, now() FROM generate_series(0, 2499, 12) AS n
                """, logger: TestDatabase.logger)
            let store = RiskBaselineStore(database: database, logger: TestDatabase.logger)
            let at = Self.start
            let scorer = RiskScorer(timeZone: TimeZone(identifier: "UTC")!)
            let facts = RiskFacts(
                principalKind: .user, mfaAgeSeconds: 60, resource: "notes", sensitivity: 1, sourceIP: nil,
                breakGlass: false, at: at)
            // One group: everyone counted, exactly.
            let one = try await store.baseline(Self.query(Principal(id: "zoe", kind: .user, groups: ["everyone"]), ip: nil, at: at))
            #expect(one.peers == 2500 && one.peersWithAccess == 209, "\(one.peers) \(one.peersWithAccess)")
            #expect(scorer.assess(facts, baseline: one).names.contains("peer_outlier"))
            // Several: the first 1,000 by name (p0000–p0999), of whom p0000, p0012, … p0996 hold it: 84.
            let several = try await store.baseline(Self.query(
                Principal(id: "zoe", kind: .user, groups: ["everyone", "ops"]), ip: nil, at: at))
            #expect(several.peers == 1000 && several.peersWithAccess == 84, "\(several.peers) \(several.peersWithAccess)")
            #expect(scorer.assess(facts, baseline: several).names.contains("peer_outlier"))
            // A member counts the others only; a holder too.
            let member = try await store.baseline(Self.query(
                Principal(id: "p0500", kind: .user, groups: ["everyone"]), ip: nil, at: at))
            #expect(member.peers == 2499 && member.peersWithAccess == 209)
            let holder = try await store.baseline(Self.query(
                Principal(id: "p0012", kind: .user, groups: ["everyone"]), ip: nil, at: at))
            #expect(holder.peers == 2499 && holder.peersWithAccess == 208)
            let small = try await store.baseline(Self.query(
                Principal(id: "p3000", kind: .user, groups: ["ops"]), ip: nil, at: at))
            #expect(small.peers == 2 && small.peersWithAccess == 0)
            // The totals were folded as they grew: a few rows per group, not one per member.
            let rows = try await database.client.query(
                "SELECT count(*) FROM risk_group_member_counts WHERE group_name = 'everyone'", logger: TestDatabase.logger)
            for try await count in rows.decode(Int64.self) { #expect(count < 10, "\(count)") }
        }
    }

    @Test("two brokers adding members and holders to one group at once: its totals stay exact, and stay few rows")
    func groupTotalsUnderConcurrency() async throws {
        try await TestDatabase.withDatabase { database in
            try await TestDatabase.withExisting(database.url) { other in
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for (side, pool) in [("a", database), ("b", other)] {
                        for task in 0..<4 {
                            group.addTask {
                                for index in 0..<40 {
                                    let principal = "\(side)\(task)-\(index)"
                                    // One transaction per new member, as a request records one: a member, and
                                    // for every other one a holder.
                                    try await pool.client.withTransaction(logger: TestDatabase.logger) { connection in
                                        try await connection.query("""
                                            INSERT INTO risk_group_members (group_name, principal_id, last_seen_at)
                                            VALUES ('crowd', \(principal), now())
                                            """, logger: TestDatabase.logger)
                                        if index % 2 == 0 {
                                            try await connection.query("""
                                                INSERT INTO risk_group_grants (group_name, resource_id, principal_id)
                                                VALUES ('crowd', 'notes', \(principal))
                                                """, logger: TestDatabase.logger)
                                        }
                                    }
                                }
                            }
                        }
                    }
                    try await group.waitForAll()
                }
            }
            let totals = try await database.client.query("""
                SELECT (SELECT sum(members) FROM risk_group_member_counts WHERE group_name = 'crowd')::int8,
                       (SELECT count(*) FROM risk_group_members WHERE group_name = 'crowd'),
                       (SELECT sum(holders) FROM risk_group_holder_counts WHERE group_name = 'crowd')::int8,
                       (SELECT count(*) FROM risk_group_grants WHERE group_name = 'crowd'),
                       (SELECT count(*) FROM risk_group_member_counts WHERE group_name = 'crowd'),
                       (SELECT count(*) FROM risk_group_holder_counts WHERE group_name = 'crowd')
                """, logger: TestDatabase.logger)
            for try await (members, memberRows, holders, holderRows, memberChanges, holderChanges) in totals.decode(
                (Int64, Int64, Int64, Int64, Int64, Int64).self
            ) {
                #expect(members == 320 && memberRows == 320 && holders == 160 && holderRows == 160)
                #expect(memberChanges < 20 && holderChanges < 20, "\(memberChanges) \(holderChanges)")
            }
            let store = RiskBaselineStore(database: database, logger: TestDatabase.logger)
            let newcomer = try await store.baseline(Self.query(
                Principal(id: "new", kind: .user, groups: ["crowd"]), ip: nil, at: Self.start))
            #expect(newcomer.peers == 320 && newcomer.peersWithAccess == 160)
        }
    }

    @Test("a membership and a grant of one principal added at once: the peers' table gets the pair (the second waits for the first)")
    func peersUnderConcurrency() async throws {
        try await TestDatabase.withDatabase { database in
            let logger = TestDatabase.logger
            try await database.client.query("""
                INSERT INTO risk_group_members (group_name, principal_id, last_seen_at) VALUES ('docs', 'erin', now());
                """, logger: logger)
            let (memberAdded, memberAddedSignal) = AsyncStream.makeStream(of: Void.self)
            let (release, releaseSignal) = AsyncStream.makeStream(of: Void.self)
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    try await database.client.withConnection { connection in
                        try await connection.query("BEGIN", logger: logger)
                        try await connection.query("""
                            INSERT INTO risk_group_members (group_name, principal_id, last_seen_at)
                            VALUES ('oncall', 'erin', now())
                            """, logger: logger)
                        memberAddedSignal.yield()
                        for await _ in release { break }
                        try await connection.query("COMMIT", logger: logger)
                    }
                }
                for await _ in memberAdded { break }
                group.addTask {
                    try await database.client.withConnection { connection in
                        try await connection.query("BEGIN", logger: logger)
                        try await connection.query("""
                            INSERT INTO risk_grants (principal_id, resource_id, grants, last_granted_at)
                            VALUES ('erin', 'pager-db', 1, now())
                            """, logger: logger)
                        try await connection.query("COMMIT", logger: logger)
                    }
                }
                // The grant's transaction waits for the membership's; without the lock it would commit now, blind to it.
                try await Task.sleep(for: .milliseconds(300))
                releaseSignal.yield()
                try await group.waitForAll()
            }
            let rows = try await database.client.query(
                "SELECT group_name FROM risk_group_grants WHERE principal_id = 'erin' ORDER BY group_name", logger: logger)
            var groups: [String] = []
            for try await name in rows.decode(String.self) { groups.append(name) }
            #expect(groups == ["docs", "oncall"])
        }
    }
}
