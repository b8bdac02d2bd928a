import AirlockBroker
import AirlockCore
import AirlockServer
import ArgumentParser
import Foundation
import Logging

/// `airlock bench revocation`: how long after its expiry each lease's login is gone, for a burst of leases that
/// expire within a few seconds, against the raw cost of the same number of `DROP ROLE`s on the same cluster.
struct BenchRevocationCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "revocation",
        abstract: "Time lease revocation at expiry against plain DROP ROLE on the same cluster.",
        discussion: """
            Starts what `airlock dev` starts (a throwaway PostgreSQL cluster, the demo databases, the broker on a \
            free loopback port), issues --leases logins for orders-staging readonly through the API \
            (POST /v1/credentials, as a CI service, 30-minute TTL), keeps a session open as the first --sessions \
            of them, then moves the leases' expiry, in the broker's database, so that they expire one after the \
            other, evenly over --window seconds, starting --lead seconds later (as if they had been issued with \
            those TTLs, without waiting for an issuance that long). Then it watches the target cluster every few \
            milliseconds: a lease is done when its role is gone and no session of it is left. It prints the lag \
            from each lease's expires_at to that moment (p50, p99, max), the burst time (first expiry to last \
            login gone), checks that every lease is `expired` with one airlock.credential.revoked event, then times \
            the same number of plain DROP ROLEs of logins made the same way (on 1 connection, and on 8). \
            Everything is removed at the end.
            """)

    @Option(help: "Leases issued, then expired.")
    var leases: Int = 2_000

    @Option(help: "Seconds over which the expiries are spread (0: all at the same instant).")
    var window: Double = 3

    @Option(help: "Seconds from the moment the expiries are set to the first one.")
    var lead: Double = 2

    @Option(help: "Leases whose login holds an open session until revocation ends it.")
    var sessions: Int = 20

    @Option(help: "Concurrent API callers while issuing.")
    var concurrency: Int = 16

    @Option(help: ArgumentHelp(
        "Policy directory (DIR/*.airlock; resources in DIR/resources.*); default: the Policies installed with airlock, or of the checkout it was built in.",
        valueName: "dir"))
    var policies: String = AirlockConfiguration.defaultPoliciesDirectory

    @Flag(help: "Print the results as one JSON object instead of the table.")
    var json = false

    func validate() throws {
        guard (1...20_000).contains(leases) else { throw ValidationError("--leases must be between 1 and 20000") }
        guard (0...600).contains(window) else { throw ValidationError("--window must be between 0 and 600 seconds") }
        guard (0.5...600).contains(lead) else { throw ValidationError("--lead must be between 0.5 and 600 seconds") }
        guard (0...100).contains(sessions), sessions <= leases else {
            throw ValidationError("--sessions must be between 0 and 100, and at most --leases")
        }
        guard (1...64).contains(concurrency) else { throw ValidationError("--concurrency must be between 1 and 64") }
    }

    func run() async throws {
        _ = try ActivePolicySet.load(directory: policies)  // a broken set is reported before the cluster starts
        var settings = AirlockConfiguration()
        settings.logLevel = .warning
        let logger = LogSetup.bootstrap(settings)
        let plan = BenchRevocationRun.Plan(
            leases: leases, window: window, lead: lead, sessions: sessions, concurrency: concurrency)
        let report: BenchRevocationReport
        do {
            report = try await BenchIssuanceEnvironment.with(policies: policies, logger: logger) { environment in
                try await BenchRevocationRun.measure(environment, plan: plan)
            }
        } catch {
            benchNote("error: \(error)")
            throw ExitCode(1)
        }
        print(json ? report.json.canonicalString() : report.text)
    }
}
