import AirlockBroker
import AirlockCore
import AirlockServer
import AirlockStore
import ArgumentParser
import Foundation
import Synchronization

/// `airlock bench introspection`: RFC 7662 introspection of `alkc_` tokens through the HTTP API, as many resource
/// servers would call it, at one concurrency level for a fixed time.
struct BenchIntrospectionCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "introspection",
        abstract: "Time POST /v1/tokens/introspect under load on a throwaway local environment.",
        discussion: """
            Starts what `airlock dev` starts, issues --tokens payments-api tokens to a CI service with \
            POST /v1/credentials and an `introspect` API token, then runs --concurrency workers (each on its own \
            keep-alive connection) introspecting the tokens round-robin for --seconds after a one-second warm-up. \
            Every answer must say `active: true`. Prints requests per second, p50 and p99, and the issue's targets \
            (at least 20,000/s with p99 at most 2 ms at concurrency 32). With --wrk, `wrk` makes the load instead.
            """)

    @Option(help: "Measured seconds.")
    var seconds: Double = 5

    @Option(help: "Concurrent workers (connections).")
    var concurrency: Int = 32

    @Option(help: "Distinct credential tokens to introspect.")
    var tokens: Int = 100

    @Option(help: ArgumentHelp(
        "Policy directory (DIR/*.airlock; resources in DIR/resources.*); default: the Policies installed with airlock, or of the checkout it was built in.",
        valueName: "dir"))
    var policies: String = AirlockConfiguration.defaultPoliciesDirectory

    @Flag(help: "Make the load with `wrk` (must be installed) instead of the built-in workers: cheaper per request, so the figures show more of the broker and less of the client.")
    var wrk = false

    @Option(help: "With --wrk: its threads.")
    var wrkThreads: Int = 2

    @Flag(help: "Print the results as one JSON object.")
    var json = false

    func validate() throws {
        guard seconds > 0, seconds <= 600 else { throw ValidationError("--seconds must be between 0 and 600") }
        guard (1...256).contains(concurrency) else { throw ValidationError("--concurrency must be between 1 and 256") }
        guard (1...10_000).contains(tokens) else { throw ValidationError("--tokens must be between 1 and 10000") }
        guard (1...64).contains(wrkThreads), wrkThreads <= concurrency else {
            throw ValidationError("--wrk-threads must be between 1 and 64, and at most --concurrency")
        }
    }

    func run() async throws {
        _ = try ActivePolicySet.load(directory: policies)
        var settings = AirlockConfiguration()
        settings.logLevel = .warning
        let logger = LogSetup.bootstrap(settings)
        let (seconds, concurrency, count, useWrk, threads) = (
            self.seconds, self.concurrency, self.tokens, self.wrk, self.wrkThreads)
        let result: BenchIntrospectionWrk.Result
        do {
            result = try await BenchIssuanceEnvironment.with(policies: policies, logger: logger) { environment in
                let introspector = try await Database.withDatabase(try environment.adminURL("airlock"), logger: logger) {
                    try await ApiTokenStore(database: $0, auditLog: AuditLog(source: "/airlock/bench"))
                        .create(name: "bench-introspection", scopes: ["introspect"], audience: "payments-api",
                                actor: "bench", logger: logger).token
                }
                benchNote("issuing \(count) payments-api tokens ...")
                let service = try await environment.issuer.issueToken(user: "ci-bench", groups: ["ci"], service: true)
                let minted = try await BenchIssuanceHTTP.withConnection(port: environment.port) { connection in
                    var minted: [String] = []
                    for _ in 0..<count {
                        let reply = try await connection.send(.POST, "/v1/credentials", token: service, body: [
                            "resource": "payments-api", "role": "read", "ttl_seconds": 900,
                        ])
                        guard reply.status == 201, let token = reply.json["token"]?.stringValue else {
                            throw BenchIssuanceError("POST /v1/credentials answered \(reply.status): \(reply.json["error"] ?? .null)")
                        }
                        minted.append(token)
                    }
                    return minted
                }
                benchNote("warming up ...")
                _ = try await Self.load(environment, introspector, minted, concurrency: concurrency, seconds: 1)
                guard useWrk else {
                    benchNote("introspecting at concurrency \(concurrency) for \(seconds) s ...")
                    return try await Self.load(
                        environment, introspector, minted, concurrency: concurrency, seconds: seconds)
                }
                benchNote("introspecting with wrk (\(threads) threads) at concurrency \(concurrency) for \(seconds) s ...")
                let loaded = try BenchIntrospectionWrk.run(
                    port: environment.port, introspector: introspector, tokens: minted, concurrency: concurrency,
                    threads: threads, seconds: seconds)
                guard loaded.failures == 0 else {
                    throw BenchIssuanceError("wrk saw \(loaded.failures) failed requests (non-2xx or socket errors)")
                }
                // wrk checks only the status: every token must still introspect as active.
                _ = try await Self.load(environment, introspector, minted, concurrency: 1, seconds: 0.2)
                return loaded
            }
        } catch {
            benchNote("error: \(error)")
            throw ExitCode(1)
        }
        let met = result.perSecond >= 20_000 && result.p99 <= 2
        if json {
            print(JSONValue.object([
                "concurrency": .int(Int64(concurrency)), "seconds": .double(result.seconds),
                "requests": .int(Int64(result.requests)), "per_second": .double(result.perSecond.rounded()),
                "load_generator": .string(useWrk ? "wrk" : "airlock"),
                "p50_ms": .double(result.p50), "p99_ms": .double(result.p99), "targets_met": .bool(met),
            ]).canonicalString())
        } else {
            print("""
                introspection at concurrency \(concurrency) (load: \(useWrk ? "wrk" : "airlock")): \(result.requests) requests in \
                \(String(format: "%.2f", result.seconds)) s = \(Int(result.perSecond.rounded()))/s, \
                p50 \(String(format: "%.3f", result.p50)) ms, p99 \(String(format: "%.3f", result.p99)) ms
                targets (≥ 20000/s, p99 ≤ 2 ms): \(met ? "MET" : "MISSED")
                """)
        }
    }

    /// `concurrency` workers introspecting `tokens` round-robin for `seconds`; every answer must be active.
    private static func load(
        _ environment: BenchIssuanceEnvironment, _ introspector: String, _ tokens: [String], concurrency: Int,
        seconds: Double
    ) async throws -> BenchIntrospectionWrk.Result {
        let bodies: [JSONValue] = tokens.map { ["token": .string($0)] }
        let start = ContinuousClock.now
        let deadline = start + .milliseconds(Int64(seconds * 1000))
        let latencies = try await withThrowingTaskGroup(of: [Double].self) { group in
            for worker in 0..<concurrency {
                group.addTask {
                    try await BenchIssuanceHTTP.withConnection(port: environment.port) { connection in
                        var latencies: [Double] = []
                        var index = worker
                        while ContinuousClock.now < deadline {
                            let began = ContinuousClock.now
                            let reply = try await connection.send(
                                .POST, "/v1/tokens/introspect", token: introspector, body: bodies[index % bodies.count])
                            latencies.append((ContinuousClock.now - began).milliseconds)
                            guard reply.status == 200, reply.json["active"] == true else {
                                throw BenchIssuanceError("introspection answered \(reply.status): \(reply.json)")
                            }
                            index += concurrency
                        }
                        return latencies
                    }
                }
            }
            return try await group.reduce(into: [Double]()) { $0 += $1 }
        }
        var result = BenchIssuanceResult()
        result.latencies = latencies.sorted()
        result.seconds = (ContinuousClock.now - start).milliseconds / 1000
        return BenchIntrospectionWrk.Result(
            requests: result.latencies.count, seconds: result.seconds, perSecond: result.perSecond, p50: result.p50,
            p99: result.p99, failures: 0)
    }
}
