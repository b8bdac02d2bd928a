import AirlockStore
import AirlockTestSupport
import Foundation
import Testing

/// Migration 0019 moves the hours of the week into weekly rows and builds the peers' table from what 0015 kept, and
/// 0027 sums each principal's weekly rows into one: a broker upgraded in place scores its principals as before.
struct RiskBaselineMigrationTests {
    let logger = TestDatabase.logger

    @Test("hours and peers recorded before 0019 read the same after it")
    func carriedOver() async throws {
        let all = try Migration.load(from: TestDatabase.migrationsDirectory)
        try await TestDatabase.withDatabase(migrated: false) { database in
            try await MigrationRunner(migrations: all.filter { $0.version < 19 }).migrate(database, logger: logger)
            try await database.client.query("""
                INSERT INTO risk_hours (principal_id, week, hour_of_week, requests)
                VALUES ('alice', '2026-11-30', 0, 2), ('alice', '2026-11-30', 33, 5), ('alice', '2026-11-30', 167, 1),
                       ('alice', '2026-11-23', 33, 4), ('bob', '2026-11-30', 100, 7)
                """, logger: logger)
            try await database.client.query("""
                INSERT INTO risk_grants (principal_id, resource_id, grants, last_granted_at)
                VALUES ('alice', 'orders-db', 3, now()), ('alice', 'notes', 1, now()), ('bob', 'notes', 2, now())
                """, logger: logger)
            try await database.client.query("""
                INSERT INTO risk_group_members (group_name, principal_id, last_seen_at)
                VALUES ('sre', 'alice', now()), ('docs', 'alice', now()), ('docs', 'bob', now()),
                       ('sales', 'carol', now())
                """, logger: logger)
            try await MigrationRunner(migrations: all).migrate(database, logger: logger)

            let weeks = try await database.client.query("""
                SELECT principal_id, week::text, requests, by_hour[1], by_hour[34], by_hour[168], cardinality(by_hour),
                       (SELECT sum(c) FROM unnest(by_hour) AS c)::int4
                FROM risk_hour_weeks ORDER BY principal_id, week
                """, logger: logger)
            var rows: [String] = []
            for try await (principal, week, requests, first, tuesday, last, slots, sum) in weeks.decode(
                (String, String, Int32, Int32, Int32, Int32, Int32, Int32).self
            ) {
                rows.append("\(principal) \(week) \(requests) [\(first) \(tuesday) \(last)] \(slots) \(sum)")
            }
            #expect(rows == [
                "alice 2026-11-23 4 [0 4 0] 168 4", "alice 2026-11-30 8 [2 5 1] 168 8", "bob 2026-11-30 7 [0 0 0] 168 7",
            ])

            let grants = try await database.client.query(
                "SELECT group_name || ' ' || resource_id || ' ' || principal_id FROM risk_group_grants ORDER BY 1",
                logger: logger)
            var pairs: [String] = []
            for try await pair in grants.decode(String.self) { pairs.append(pair) }
            #expect(pairs == [
                "docs notes alice", "docs notes bob", "docs orders-db alice", "sre notes alice", "sre orders-db alice",
            ])
        }
    }

    @Test("weekly hours recorded before 0027 become each principal's totals")
    func hourTotalsCarriedOver() async throws {
        let all = try Migration.load(from: TestDatabase.migrationsDirectory)
        try await TestDatabase.withDatabase(migrated: false) { database in
            try await MigrationRunner(migrations: all.filter { $0.version < 27 }).migrate(database, logger: logger)
            try await database.client.query("""
                INSERT INTO risk_hour_weeks (principal_id, week, requests, by_hour)
                SELECT principal_id, week::date, requests, array(
                    SELECT CASE slot WHEN first_slot THEN requests - 1 WHEN 168 THEN 1 ELSE 0 END
                    FROM generate_series(1, 168) AS slot ORDER BY slot)
                FROM (VALUES ('alice', '2026-11-23', 4, 34), ('alice', '2026-11-30', 9, 34), ('bob', '2026-11-30', 7, 101))
                    AS w(principal_id, week, requests, first_slot)
                """, logger: logger)
            try await MigrationRunner(migrations: all).migrate(database, logger: logger)
            let totals = try await database.client.query("""
                SELECT principal_id, requests, by_hour[34], by_hour[101], by_hour[168], cardinality(by_hour),
                       (SELECT sum(c) FROM unnest(by_hour) AS c)::int4
                FROM risk_hour_totals ORDER BY principal_id
                """, logger: logger)
            var rows: [String] = []
            for try await (principal, requests, tuesday, thursday, last, slots, sum) in totals.decode(
                (String, Int32, Int32, Int32, Int32, Int32, Int32).self
            ) {
                rows.append("\(principal) \(requests) [\(tuesday) \(thursday) \(last)] \(slots) \(sum)")
            }
            #expect(rows == ["alice 13 [11 0 2] 168 13", "bob 7 [0 6 1] 168 7"])
        }
    }

    @Test("peers recorded before 0027 are counted in its groups' totals")
    func groupTotalsCarriedOver() async throws {
        let all = try Migration.load(from: TestDatabase.migrationsDirectory)
        try await TestDatabase.withDatabase(migrated: false) { database in
            try await MigrationRunner(migrations: all.filter { $0.version < 27 }).migrate(database, logger: logger)
            try await database.client.query("""
                INSERT INTO risk_group_members (group_name, principal_id, last_seen_at)
                VALUES ('sre', 'alice', now()), ('sre', 'bob', now()), ('sre', 'carol', now()), ('docs', 'bob', now())
                """, logger: logger)
            try await database.client.query("""
                INSERT INTO risk_grants (principal_id, resource_id, grants, last_granted_at)
                VALUES ('alice', 'orders-db', 3, now()), ('bob', 'orders-db', 1, now()), ('bob', 'notes', 2, now())
                """, logger: logger)
            try await MigrationRunner(migrations: all).migrate(database, logger: logger)
            let totals = try await database.client.query("""
                SELECT 'members ' || group_name || ' ' || sum(members) FROM risk_group_member_counts GROUP BY group_name
                UNION ALL
                SELECT 'holders ' || group_name || ' ' || resource_id || ' ' || sum(holders)
                FROM risk_group_holder_counts GROUP BY group_name, resource_id
                ORDER BY 1
                """, logger: logger)
            var rows: [String] = []
            for try await row in totals.decode(String.self) { rows.append(row) }
            #expect(rows == [
                "holders docs notes 1", "holders docs orders-db 1", "holders sre notes 1", "holders sre orders-db 2",
                "members docs 1", "members sre 3",
            ])
        }
    }
}
