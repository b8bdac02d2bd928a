import AirlockBroker
import AirlockCore
import AirlockRisk
import AirlockServer
import AirlockStore
import ArgumentParser
import Foundation
import Logging
import PostgresNIO

/// `airlock bench risk`: the time to score a request, including the database reads of its baseline.
struct BenchRiskCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "risk",
        abstract: "Time risk scoring: the baseline's database reads and the score, per request.",
        discussion: """
            Starts a throwaway PostgreSQL cluster, migrates a database, and fills the risk baselines of \
            --principals people: 13 weeks of working hours (about 40 hours of the week each), 5 networks, 3 \
            granted resources of 20, groups of --group-size, and --history requests each in access_requests. \
            Then it scores --requests requests of random principals, one after the other on a warm pool (the \
            way a decision asks for its score), each from one of the principal's networks or a new one, and prints \
            p50, p99 and max of the whole assessment: the one round trip to PostgreSQL plus the score. \
            Everything is removed at the end.
            """)

    @Option(help: "Principals with a baseline.")
    var principals: Int = 10_000

    @Option(help: "People per group (each principal is in one group; peers are counted in it).")
    var groupSize: Int = 50

    @Option(help: "Requests per principal recorded in access_requests (the burst window reads them).")
    var history: Int = 20

    @Option(help: "Requests scored.")
    var requests: Int = 20_000

    @Flag(help: "Print the results as one JSON object instead of the text.")
    var json = false

    @Option(help: "After the run, keep the cluster up this many seconds and print the bench database's URL (psql, EXPLAIN).")
    var hold: Int = 0

    func validate() throws {
        guard (1...1_000_000).contains(principals) else { throw ValidationError("--principals must be between 1 and 1000000") }
        guard (1...10_000).contains(groupSize) else { throw ValidationError("--group-size must be between 1 and 10000") }
        guard (0...1_000).contains(history) else { throw ValidationError("--history must be between 0 and 1000") }
        guard (1...1_000_000).contains(requests) else { throw ValidationError("--requests must be between 1 and 1000000") }
        guard (0...86_400).contains(hold) else { throw ValidationError("--hold must be between 0 and 86400 seconds") }
    }

    func run() async throws {
        var settings = AirlockConfiguration()
        settings.logLevel = .warning
        let logger = LogSetup.bootstrap(settings)
        let migrations = try loadMigrations(settings)
        let state = try DevState.make(nil)
        let principals = self.principals, groupSize = self.groupSize, history = self.history, requests = self.requests
        let hold = self.hold
        let lags: [Double]
        var reads: [Double] = []
        var floor: (pooled: [Double], held: [Double]) = ([], [])
        do {
            (lags, reads, floor) = try await state.withCluster(keep: false, note: benchNote) { cluster in
                let admin = try DatabaseURL(cluster.url(database: "postgres"))
                try await Database.execute(unsafeSQL: ["CREATE DATABASE airlock_bench"], on: admin, logger: logger)
                return try await Database.withDatabase(admin.with(database: "airlock_bench"), logger: logger) { database in
                    try await MigrationRunner(migrations: migrations).migrate(database, logger: logger)
                    benchNote("filling the baselines of \(principals) principals")
                    try await Self.fill(database, principals: principals, groupSize: groupSize, history: history, logger: logger)
                    benchNote("scoring \(requests) requests")
                    let (lags, reads) = try await Self.measure(
                        database, principals: principals, groupSize: groupSize, requests: requests, logger: logger)
                    benchNote("timing the round trip alone: a prepared SELECT 1, \(requests) times two ways")
                    let floor = try await Self.floor(database, requests: requests, logger: logger)
                    if hold > 0 {
                        benchNote("holding the cluster \(hold) s: \(cluster.url(database: "airlock_bench"))")
                        try await Task.sleep(for: .seconds(hold))
                    }
                    return (lags, reads, floor)
                }
            }
        } catch {
            benchNote("error: \(error)")
            throw ExitCode(1)
        }
        let sorted = lags.sorted(), pooled = floor.pooled.sorted(), held = floor.held.sorted(), read = reads.sorted()
        func ms(_ values: [Double], _ fraction: Double) -> Double { BenchIssuanceResult.percentile(values, fraction) * 1000 }
        if json {
            print(JSONValue.object([
                "principals": .int(Int64(principals)), "requests": .int(Int64(requests)),
                "p50_ms": .double(ms(sorted, 0.5)), "p99_ms": .double(ms(sorted, 0.99)), "max_ms": .double(ms(sorted, 1)),
                "read_p50_ms": .double(ms(read, 0.5)), "read_p99_ms": .double(ms(read, 0.99)),
                "select1_pooled_p50_ms": .double(ms(pooled, 0.5)), "select1_pooled_p99_ms": .double(ms(pooled, 0.99)),
                "select1_held_p50_ms": .double(ms(held, 0.5)), "select1_held_p99_ms": .double(ms(held, 0.99)),
            ]).canonicalString())
        } else {
            print("airlock bench risk: \(principals) principals with baselines, groups of \(groupSize), \(history) requests each")
            print(String(format: "assessment (baseline read + score), %d requests one at a time: p50 %.3f ms, p99 %.3f ms, max %.3f ms",
                         requests, ms(sorted, 0.5), ms(sorted, 0.99), ms(sorted, 1)))
            print(String(format: "the baseline read alone (the same queries, without the score): p50 %.3f ms, p99 %.3f ms",
                         ms(read, 0.5), ms(read, 0.99)))
            print(String(format: "the round trip alone, a prepared SELECT 1: through the pool (as the score reads) p50 %.3f ms, p99 %.3f ms; on one held connection p50 %.3f ms, p99 %.3f ms",
                         ms(pooled, 0.5), ms(pooled, 0.99), ms(held, 0.5), ms(held, 0.99)))
            print("target: p99 ≤ 1 ms \(ms(sorted, 0.99) <= 1 ? "met" : "missed")")
        }
    }

    static func principal(_ number: Int) -> String { "bench-\(number)" }
    static func group(of number: Int, size: Int) -> String { "team-\(number / size)" }

    /// Baselines as months of use would leave them, written directly (the triggers' cost is the recording path's).
    static func fill(_ database: Database, principals: Int, groupSize: Int, history: Int, logger: Logger) async throws {
        let count = Int64(principals), size = Int64(groupSize), perPrincipal = Int64(history)
        try await database.client.query("""
            INSERT INTO resources (id, kind, env, owner, sensitivity)
            SELECT 'res-' || r, 'postgres', 'prod', 'team', r % 10 FROM generate_series(0, 19) AS r
            ON CONFLICT DO NOTHING
            """, logger: logger)
        try await database.client.query("""
            INSERT INTO risk_baselines (principal_id, first_request_at, requests, denial_streak, highest_sensitivity)
            SELECT 'bench-' || p, now() - interval '120 days', 400, 0, 7 FROM generate_series(0, \(count) - 1) AS p
            """, logger: logger)
        try await database.client.query("""
            INSERT INTO risk_hour_weeks (principal_id, week, requests, by_hour)
            SELECT 'bench-' || p, (date_trunc('week', now()) - w * interval '1 week')::date,
                   (SELECT sum(1 + (p + h) % 3) FROM generate_series(9, 16) AS h) * 5,
                   array(SELECT CASE WHEN slot / 24 < 5 AND slot % 24 BETWEEN 9 AND 16 THEN 1 + (p + slot % 24) % 3 ELSE 0 END
                         FROM generate_series(0, 167) AS slot ORDER BY slot)
            FROM generate_series(0, \(count) - 1) AS p, generate_series(0, 12) AS w
            """, logger: logger)
        // Each principal's totals of those weeks, as the recording trigger would have kept them (migration 0027).
        try await database.client.query("SELECT airlock_risk_hour_totals_rebuild()", logger: logger)
        try await database.client.query("""
            INSERT INTO risk_networks (principal_id, network, last_seen_at)
            SELECT 'bench-' || p, ('10.' || (p % 250) || '.' || n || '.0/24')::cidr, now() - n * interval '3 days'
            FROM generate_series(0, \(count) - 1) AS p, generate_series(0, 4) AS n
            """, logger: logger)
        try await database.client.query("""
            INSERT INTO risk_grants (principal_id, resource_id, grants, last_granted_at)
            SELECT 'bench-' || p, 'res-' || ((p + g * 7) % 20), 5, now() - interval '2 days'
            FROM generate_series(0, \(count) - 1) AS p, generate_series(0, 2) AS g
            """, logger: logger)
        try await database.client.query("""
            INSERT INTO risk_group_members (group_name, principal_id, last_seen_at)
            SELECT 'team-' || (p / \(size)), 'bench-' || p, now() FROM generate_series(0, \(count) - 1) AS p
            """, logger: logger)
        if perPrincipal > 0 {
            // Requests spread over the last 90 days, half of them issued (the repeated activations count those); the
            // triggers are off while filling (their cost is not timed here).
            try await database.client.query(
                "ALTER TABLE access_requests DISABLE TRIGGER USER", logger: logger)
            try await database.client.query("""
                INSERT INTO access_requests (id, principal_id, principal_kind, resource_id, role, ttl_seconds, status,
                                             decision, evaluation_input, created_at, closed_at)
                SELECT gen_random_uuid(), 'bench-' || p, 'user', 'res-' || (i % 20), 'readonly', 900,
                       CASE WHEN i % 2 = 0 THEN 'issued' ELSE 'expired' END,
                       '{}', '{}', now() - (i * interval '4 hours') - (p % 60) * interval '1 minute', now()
                FROM generate_series(0, \(count) - 1) AS p, generate_series(1, \(perPrincipal)) AS i
                """, logger: logger)
            try await database.client.query("ALTER TABLE access_requests ENABLE TRIGGER USER", logger: logger)
        }
        // As autovacuum would leave the tables: statistics, and visibility maps for index-only scans.
        try await database.client.query("VACUUM ANALYZE", logger: logger)
    }

    /// Scores `requests` requests one after the other; each lag is the whole `assess`, in seconds.
    static func measure(
        _ database: Database, principals: Int, groupSize: Int, requests: Int, logger: Logger
    ) async throws -> (assessments: [Double], reads: [Double]) {
        var readsOnly: [Double]? = []
        let store = RiskBaselineStore(database: database, logger: logger)
        let assessor = BaselineRiskAssessor(
            store: store,
            scorer: RiskScorer(timeZone: TimeZone(identifier: "UTC")!), clock: SystemWallClock(), logger: logger)
        let resources = (0..<20).map { Resource(id: "res-\($0)", kind: .postgres, env: "prod", sensitivity: $0 % 10, roles: [:]) }
        var generator = SystemRandomNumberGenerator()
        var lags: [Double] = []
        lags.reserveCapacity(requests)
        for index in 0..<(requests + 200) {
            let number = Int.random(in: 0..<principals, using: &generator)
            let principal = Principal(
                id: principal(number), kind: .user, groups: [group(of: number, size: groupSize)], mfaAgeSeconds: 600)
            let network = Int.random(in: 0..<6, using: &generator)  // 5 known, 1 in 6 new
            let ask = Ask(
                resource: resources[number % 20].id, role: "readonly", ttlSeconds: 900,
                sourceIP: "10.\(number % 250).\(network).\(Int.random(in: 1..<255, using: &generator))")
            let resource = resources[Int.random(in: 0..<20, using: &generator)]
            let started = ContinuousClock.now
            let assessment = await assessor.assess(principal: principal, resource: resource, ask: ask)
            let lag = started.duration(to: .now)
            if index >= 200, readsOnly != nil {
                // The same baseline read without the score, right after: how the time splits between them.
                let now = Date()
                let readStarted = ContinuousClock.now
                _ = try await store.assessmentInputs(RiskBaselineStore.Query(
                    principal: principal.id, groups: principal.groups, resource: resource.id, sourceIP: ask.sourceIP,
                    at: now, hoursSince: now.addingTimeInterval(-90 * 86_400), hourOfWeek: 30, burstWindowSeconds: 600,
                    role: "readonly", activationsSince: now.addingTimeInterval(-30 * 86_400)))
                let read = readStarted.duration(to: .now)
                readsOnly?.append(Double(read.components.seconds) + Double(read.components.attoseconds) / 1e18)
            }
            if assessment.names.contains("risk_unavailable") { throw BenchRiskError("the baseline could not be read") }
            if index >= 200 { lags.append(Double(lag.components.seconds) + Double(lag.components.attoseconds) / 1e18) }
        }
        return (lags, readsOnly ?? [])
    }
}

extension BenchRiskCommand {
    /// The floor under the score: the same number of round trips of a prepared `SELECT 1`, through the pool and the
    /// connection watch on the connection's event loop as the baseline read goes (`DatabaseClient.execute`), then on
    /// one connection held throughout (no lease, no watch per call). What the score costs above the first is its statement and its decoding; what
    /// the first costs above the second is the broker's path to a connection.
    static func floor(
        _ database: Database, requests: Int, logger: Logger
    ) async throws -> (pooled: [Double], held: [Double]) {
        @Sendable func seconds(_ duration: Duration) -> Double {
            Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
        }
        var pooled: [Double] = []
        pooled.reserveCapacity(requests)
        for index in 0..<(requests + 200) {
            let started = ContinuousClock.now
            _ = try await database.client.execute(SelectOne(), logger: logger, onEventLoop: true)
            if index >= 200 { pooled.append(seconds(started.duration(to: .now))) }
        }
        let held = try await database.client.withConnection { connection in
            var held: [Double] = []
            held.reserveCapacity(requests)
            for index in 0..<(requests + 200) {
                let started = ContinuousClock.now
                for try await _ in try await connection.execute(SelectOne(), logger: logger) {}
                if index >= 200 { held.append(seconds(started.duration(to: .now))) }
            }
            return held
        }
        return (pooled, held)
    }

    struct SelectOne: PostgresPreparedStatement {
        static let name = "airlock_bench_select_one"
        static let sql = "SELECT 1::int4"
        typealias Row = Int32
        func makeBindings() throws -> PostgresBindings { PostgresBindings() }
        func decodeRow(_ row: PostgresRow) throws -> Row { try row.decode(Int32.self) }
    }
}

struct BenchRiskError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
