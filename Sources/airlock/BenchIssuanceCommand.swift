import AirlockBroker
import AirlockCore
import AirlockServer
import ArgumentParser
import Foundation
import Logging
import PostgresNIO

/// `airlock bench`: end-to-end benchmarks on a throwaway local environment.
struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure the broker end to end on a throwaway local cluster.",
        subcommands: [BenchIssuanceCommand.self, BenchIntrospectionCommand.self, BenchRevocationCommand.self,
                      BenchWebhooksCommand.self, BenchRiskCommand.self])
}

/// `airlock bench issuance`: auto-permitted ask + pickup through the HTTP API against the raw cost of the same
/// logins made directly on the same database, at several concurrency levels.
struct BenchIssuanceCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "issuance",
        abstract: "Time credential issuance through the API against plain CREATE ROLE on the same database.",
        discussion: """
            Starts what `airlock dev` starts (a throwaway PostgreSQL cluster, the demo databases, the broker on a \
            free loopback port), then at each concurrency level runs --requests auto-permitted round trips \
            (POST /v1/access-requests, GET /v1/access-requests/ID/credentials for orders-staging readonly, each \
            worker a distinct sre user on its own connection), then the same number of logins made directly by \
            the superuser: CREATE ROLE … IN ROLE <Airlock's group role>, and CREATE ROLE + GRANTs. The first \
            --verify logins of each level are used at once (connect, read public.orders). Prints p50/p99 and \
            credentials per second per series, and a line comparing them with the targets: p50 within raw + 2 ms, \
            throughput at least raw and rising with concurrency. Everything is removed at the end.
            """)

    @Option(help: "Credentials per series and concurrency level.")
    var requests: Int = 300

    @Option(help: ArgumentHelp("Concurrency levels, comma-separated.", valueName: "list"))
    var concurrency: String = "1,8,32"

    @Option(help: "Logins per level checked right after their return.")
    var verify: Int = 5

    @Option(help: ArgumentHelp(
        "Policy directory (DIR/*.airlock; resources in DIR/resources.*); default: the Policies installed with airlock, or of the checkout it was built in.",
        valueName: "dir"))
    var policies: String = AirlockConfiguration.defaultPoliciesDirectory

    @Option(help: "ask (a person: POST /v1/access-requests, then GET …/credentials) or one-call (a CI service: POST /v1/credentials).")
    var flow: BenchIssuanceAirlock.Flow = .ask

    @Flag(help: "Open a new TCP connection for every HTTP call and close it after the answer, as the airlock CLI does (default: one keep-alive connection per worker).")
    var freshConnections = false

    @Flag(help: "Print the results as one JSON object instead of the table.")
    var json = false

    func validate() throws {
        guard (1...100_000).contains(requests) else { throw ValidationError("--requests must be between 1 and 100000") }
        guard (0...1_000).contains(verify) else { throw ValidationError("--verify must be between 0 and 1000") }
        _ = try levels()
    }

    private func levels() throws -> [Int] {
        let levels = concurrency.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard !levels.isEmpty, levels.allSatisfy({ ($0 ?? 0) >= 1 && ($0 ?? 0) <= 64 }) else {
            throw ValidationError("--concurrency must list levels between 1 and 64, e.g. 1,8,32")
        }
        return levels.compactMap { $0 }
    }

    func run() async throws {
        let levels = try levels()
        _ = try ActivePolicySet.load(directory: policies)  // a broken set is reported before the cluster starts
        var settings = AirlockConfiguration()
        settings.logLevel = .warning
        let logger = LogSetup.bootstrap(settings)
        let (requests, verify, policies, flow) = (self.requests, self.verify, self.policies, self.flow)
        let fresh = freshConnections
        let report: BenchIssuanceReport
        do {
            report = try await BenchIssuanceEnvironment.with(policies: policies, logger: logger) { environment in
                try await Self.measure(
                    environment, levels: levels, requests: requests, verify: verify, flow: flow, fresh: fresh)
            }
        } catch {
            benchNote("error: \(error)")
            throw ExitCode(1)
        }
        print(json ? report.json.canonicalString() : report.text)
    }

    private static func measure(
        _ environment: BenchIssuanceEnvironment, levels: [Int], requests: Int, verify: Int,
        flow: BenchIssuanceAirlock.Flow, fresh: Bool
    ) async throws -> BenchIssuanceReport {
        // Warm up: the group role is prepared at the first mint, the pools open, the JWKS is parsed.
        benchNote("warming up ...")
        let warm = try await BenchIssuanceAirlock.run(
            environment, requests: 2 * (levels.max() ?? 1), concurrency: levels.max() ?? 1, verify: 1, tag: "warmup")
        let groupRole = try await groupRole(of: warm.username, environment)
        let floor = try await BenchIssuanceAirlock.floor(environment, requests: 200, freshConnections: fresh)
        var results: [BenchIssuanceLevel] = []
        for level in levels {
            benchNote("concurrency \(level): airlock ...")
            let airlock = try await BenchIssuanceAirlock.run(
                environment, requests: requests, concurrency: level, verify: verify, tag: "c\(level)", flow: flow,
                freshConnections: fresh)
            benchNote("concurrency \(level): raw in role ...")
            let inRole = try await BenchIssuanceRaw.run(
                environment, variant: .inRole, groupRole: groupRole, requests: requests, concurrency: level,
                verify: verify)
            benchNote("concurrency \(level): raw + grants ...")
            let grants = try await BenchIssuanceRaw.run(
                environment, variant: .grants, groupRole: groupRole, requests: requests, concurrency: level,
                verify: verify)
            results.append(BenchIssuanceLevel(concurrency: level, airlock: airlock, rawInRole: inRole, rawGrants: grants))
        }
        return BenchIssuanceReport(
            requests: requests, verify: verify, floor: floor, levels: results, flow: flow, freshConnections: fresh)
    }

    /// The group role an Airlock login of the warm-up is a member of: the raw logins join the same one.
    private static func groupRole(of username: String?, _ environment: BenchIssuanceEnvironment) async throws -> String {
        guard let username else { throw BenchIssuanceError("the warm-up issued no login") }
        let url = try environment.adminURL(BenchIssuanceAirlock.targetDatabase)
        let connection = try await PostgresConnection.connect(
            configuration: url.connectionConfiguration(), id: 2, logger: environment.logger)
        let rows: [PostgresRow]
        do {
            rows = try await connection.query(
                """
                SELECT g.rolname::text FROM pg_catalog.pg_auth_members m
                  JOIN pg_catalog.pg_roles g ON g.oid = m.roleid JOIN pg_catalog.pg_roles u ON u.oid = m.member
                 WHERE u.rolname = \(username)
                """,
                logger: environment.logger
            ).collect()
        } catch {
            try? await connection.close()
            throw error
        }
        try await connection.close()
        guard rows.count == 1, let name = try rows.first?.decode(String.self) else {
            throw BenchIssuanceError("cannot find the group role of the issued logins")
        }
        return name
    }
}

extension BenchIssuanceAirlock.Flow: ExpressibleByArgument {}
