import AirlockBroker
import AirlockCore
import AirlockServer
import ArgumentParser
import Foundation
import Logging

/// `airlock bench webhooks`: audit events delivered end to end to a local receiver (events per second), the latency
/// from an event's commit to its receipt at a steady rate, and what an endpoint receiving every event costs
/// issuance.
struct BenchWebhooksCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "webhooks",
        abstract: "Time webhook delivery end to end: throughput, commit-to-receipt latency, cost to issuance.",
        discussion: """
            Starts what `airlock dev` starts (a throwaway PostgreSQL cluster, the demo databases, the broker on a \
            free loopback port) and a receiver on loopback that verifies every Standard Webhooks signature, and \
            adds an endpoint for it through the API. Then: \
            (1) throughput: --events audit events are committed as fast as --writers connections can (transactions \
            of 50, as a busy broker's writers would), and the clock runs from the first commit to the last event's \
            receipt; \
            (2) latency: events committed one per transaction at --rate per second for --seconds, each timed from \
            its commit to its first receipt (p50, p99, max); \
            (3) cost to issuance: POST /v1/credentials (a CI service, --issuance-requests on --issuance-concurrency \
            connections) with no endpoint, then with an endpoint receiving every event, alternating --rounds times; \
            the medians are compared. Everything is removed at the end.
            """)

    @Option(help: "Events for the throughput run.")
    var events: Int = 20_000

    @Option(help: "Connections committing events in the throughput run.")
    var writers: Int = 4

    @Option(help: "Events per second in the latency run.")
    var rate: Int = 500

    @Option(help: "Seconds of the latency run.")
    var seconds: Double = 10

    @Option(help: "Credentials issued per issuance round.")
    var issuanceRequests: Int = 600

    @Option(help: "Concurrent API callers while issuing.")
    var issuanceConcurrency: Int = 8

    @Option(help: "Issuance rounds with and without an endpoint (alternating).")
    var rounds: Int = 3

    @Option(help: ArgumentHelp(
        "Policy directory (DIR/*.airlock; resources in DIR/resources.*); default: the Policies installed with airlock, or of the checkout it was built in.",
        valueName: "dir"))
    var policies: String = AirlockConfiguration.defaultPoliciesDirectory

    @Flag(help: "Print the results as one JSON object instead of the table.")
    var json = false

    func validate() throws {
        guard (100...1_000_000).contains(events) else { throw ValidationError("--events must be between 100 and 1000000") }
        guard (1...32).contains(writers) else { throw ValidationError("--writers must be between 1 and 32") }
        guard (1...20_000).contains(rate) else { throw ValidationError("--rate must be between 1 and 20000") }
        guard (1...600).contains(seconds) else { throw ValidationError("--seconds must be between 1 and 600") }
        guard (0...100_000).contains(issuanceRequests) else {
            throw ValidationError("--issuance-requests must be between 0 (skip) and 100000")
        }
        guard (1...64).contains(issuanceConcurrency) else {
            throw ValidationError("--issuance-concurrency must be between 1 and 64")
        }
        guard (1...20).contains(rounds) else { throw ValidationError("--rounds must be between 1 and 20") }
    }

    func run() async throws {
        _ = try ActivePolicySet.load(directory: policies)  // a broken set is reported before the cluster starts
        var settings = AirlockConfiguration()
        settings.logLevel = .warning
        let logger = LogSetup.bootstrap(settings)
        let plan = BenchWebhooksRun.Plan(
            events: events, writers: writers, rate: rate, seconds: seconds, issuanceRequests: issuanceRequests,
            issuanceConcurrency: issuanceConcurrency, rounds: rounds)
        let report: BenchWebhooksReport
        do {
            report = try await BenchIssuanceEnvironment.with(policies: policies, logger: logger) { environment in
                try await BenchWebhooksReceiver.with { receiver in
                    try await BenchWebhooksRun(environment: environment, receiver: receiver, plan: plan).measure()
                }
            }
        } catch {
            benchNote("error: \(error)")
            throw ExitCode(1)
        }
        print(json ? report.json.canonicalString() : report.text)
    }
}
