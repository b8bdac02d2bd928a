import AirlockCore
import AirlockLocalCluster
import AirlockServer
import AirlockStore
import Foundation
import Logging
import ServiceLifecycle

/// What `airlock bench issuance` runs against: the same pieces as `airlock dev` (a throwaway cluster, the demo
/// databases, migrations, a dev issuer and the broker), with the broker on a free loopback port.
struct BenchIssuanceEnvironment: Sendable {
    let cluster: LocalPostgresCluster
    /// The broker's port on 127.0.0.1.
    let port: Int
    let issuer: DevIssuer
    let logger: Logger

    /// The superuser URL of `database` on the cluster (never printed: it holds the password).
    func adminURL(_ database: String) throws -> DatabaseURL {
        try DatabaseURL(cluster.url(database: database))
    }

    /// Starts everything, runs `body`, then stops the broker and the cluster and removes its files, also when
    /// something fails on the way.
    static func with<Result: Sendable>(
        policies: String, logger: Logger, _ body: @Sendable (BenchIssuanceEnvironment) async throws -> Result
    ) async throws -> Result {
        let state = try DevState.make(nil)
        return try await state.withCluster(keep: false, note: benchNote) { cluster in
            try await serve(cluster: cluster, state: state, policies: policies, logger: logger, body)
        }
    }

    private static func serve<Result: Sendable>(
        cluster: LocalPostgresCluster, state: DevState, policies: String, logger: Logger,
        _ body: @Sendable (BenchIssuanceEnvironment) async throws -> Result
    ) async throws -> Result {
        var settings = AirlockConfiguration()
        settings.logLevel = .warning
        settings.policiesDirectory = policies
        // A benchmark is one caller going as fast as it can: the rate limits would measure themselves.
        settings.addressRateLimit = .off
        settings.principalRateLimit = .off
        let setup = try await DevBrokerSetup.prepare(
            cluster: cluster, state: state, settings: settings, port: try FreePort.find(), logger: logger)
        let issuer = setup.issuer
        var config = setup.config
        // SIGHUP ends a benchmark like SIGINT and SIGTERM (DevCleanup stops the cluster and removes its files).
        config.reloadPoliciesOnHangup = false
        let app = try buildApplication(config: config)
        // No signal handling in the group: the benchmark ends the broker itself, then stops the cluster; a signal
        // is DevCleanup's (it stops the cluster, removes the files and exits).
        let services = ServiceGroup(configuration: .init(services: [app], logger: logger))
        let environment = BenchIssuanceEnvironment(
            cluster: cluster, port: config.settings.listenPort, issuer: issuer, logger: logger)
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await services.run() }
            let outcome: Swift.Result<Result, any Error>
            do {
                try await environment.waitUntilReady()
                outcome = .success(try await body(environment))
            } catch {
                outcome = .failure(error)
            }
            // A graceful stop, bounded: after 10 s the broker is cancelled (the cluster goes away next anyway).
            await services.triggerGracefulShutdown()
            group.addTask {
                try await Task.sleep(for: .seconds(10))
                throw BenchIssuanceError("the broker did not stop within 10 s: cancelling it")
            }
            do {
                _ = try await group.next()
            } catch {
                benchNote("\(error)")
            }
            group.cancelAll()
            try? await group.waitForAll()
            return try outcome.get()
        }
    }

    /// Polls `/readyz` until it answers 200 (migrations checked, policies recorded), for at most 30 seconds.
    private func waitUntilReady() async throws {
        let deadline = ContinuousClock.now + .seconds(30)
        var last = "no answer"
        while ContinuousClock.now < deadline {
            do {
                let reply = try await BenchIssuanceHTTP.withConnection(port: port) { connection in
                    try await connection.send(.GET, "/readyz", token: nil)
                }
                if reply.status == 200 { return }
                last = reply.json["error"]?["message"]?.stringValue ?? "HTTP \(reply.status)"
            } catch {
                last = "cannot connect yet"
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw BenchIssuanceError("the broker did not become ready within 30 s: \(last)")
    }
}

/// A status line on standard error (stdout carries the table, or the JSON object with --json).
func benchNote(_ text: String) {
    FileHandle.standardError.write(Data("airlock bench: \(text)\n".utf8))
}
