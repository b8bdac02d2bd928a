import AirlockCore
import AirlockPolicy
import Foundation
import Hummingbird
import Logging
import ServiceLifecycle
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `airlock agent`: keeps every configured credential fresh (``CredentialKeeper``), hands each one over in its files
/// and to the application it runs or signals, serves `/healthz` and `/metrics`, and at shutdown stops the
/// application first, then revokes what it holds (unless configured not to) and removes the credential files.
public final class Agent: Sendable {
    public let configuration: AgentConfiguration
    public let status: AgentStatus
    private let broker: AgentBroker
    private let logger: Logger
    private let clock: any WallClock
    private let environment: [String: String]
    private let handover: Handover
    private let listening = PortBox()

    public init(
        configuration: AgentConfiguration, logger: Logger, clock: any WallClock = SystemWallClock(),
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws(BrokerAddress.Refusal) {
        self.configuration = configuration
        self.logger = logger
        self.clock = clock
        self.environment = environment
        status = AgentStatus(names: configuration.credentials.map(\.name), clock: clock)
        broker = AgentBroker(
            address: try BrokerAddress(configuration.broker), authentication: configuration.authentication,
            environment: environment)
        handover = Handover(
            configuration: configuration, environment: environment, clock: clock, status: status, logger: logger)
    }

    /// The port `/healthz` and `/metrics` are served on, once they are (for a configured port 0).
    public var statusPort: Int? { listening.port.withLock { $0 } }

    /// Runs until `shutdown` returns (a signal, in `airlock agent`) or the command exits; then stops it, gives back
    /// the credentials and returns the exit status: the command's when it exited by itself, else 0.
    public func run(command: [String], shutdown: @escaping @Sendable () async -> Void) async throws -> Int32 {
        let application = command.isEmpty ? nil : ApplicationProcess(command: command)
        await handover.attach(application)
        var settings = CredentialRotation.Settings()
        settings.graceSeconds = configuration.graceSeconds
        settings.leadSeconds = configuration.leadSeconds
        let keepers = configuration.credentials.map {
            CredentialKeeper(
                credential: $0, settings: settings, broker: broker, recipient: handover, status: status, clock: clock,
                logger: logger)
        }
        logger.info("agent started", metadata: [
            "broker": "\(configuration.broker)", "credentials": "\(configuration.credentials.map(\.name).joined(separator: ","))",
        ])
        let statusServer = try await startStatusServer()
        enum Ending: Sendable { case shutdown, applicationExited(Int32) }
        let ending: Ending = await withTaskGroup(of: Ending?.self) { group in
            for keeper in keepers { group.addTask { await keeper.run(); return nil } }
            group.addTask { await shutdown(); return .shutdown }
            if let application {
                group.addTask { [handover] in
                    // The application starts once every credential is handed over.
                    await handover.waitUntilEveryCredentialIsHeld()
                    guard !Task.isCancelled else { return nil }
                    do {
                        try await handover.startApplication()
                    } catch {
                        return .applicationExited(127)
                    }
                    return .applicationExited(await application.exited())
                }
            }
            var ending = Ending.shutdown
            while let next = await group.next() {
                if let next {
                    ending = next
                    break
                }
            }
            group.cancelAll()
            await handover.close()
            return ending
        }
        var exitStatus: Int32 = 0
        switch ending {
        case .shutdown: logger.info("agent stopping")
        case .applicationExited(let code):
            exitStatus = code
            logger.info("the application exited; agent stopping", metadata: ["status": "\(code)"])
        }
        if let application { await application.stop(timeout: configuration.stopTimeoutSeconds) }
        for keeper in keepers { await keeper.release(revoke: configuration.revokeOnExit) }
        await broker.shutdown()
        await statusServer?.stop()
        logger.info("agent stopped", metadata: ["revoked": "\(configuration.revokeOnExit)"])
        return exitStatus
    }

    /// `--dry-run`: the configuration is read (already), the token works, each output's directory is writable, and
    /// the policy decides each credential (`POST /v1/decisions`) — nothing is issued. One line per check; false
    /// when any fails or any decision is not an immediate permit.
    public func dryRun(print: (String) -> Void) async -> Bool {
        var ok = true
        for credential in configuration.credentials {
            for output in credential.outputs where !CredentialFiles.writableDirectory(for: output.path) {
                ok = false
                print("\(credential.name): cannot write `\(output.path)`: its directory is missing or not writable")
            }
            do {
                let answer = try await broker.decide(credential)
                let decision = answer["decision"]?["decision"]?.stringValue ?? "?"
                let ttl = answer["decision"]?["ttl_seconds"]?.intValue
                let rules = (answer["decision"]?["rules"]?.arrayValue ?? []).compactMap(\.stringValue)
                var line = "\(credential.name): \(credential.resource) as \(credential.role) for "
                    + "\(Self.duration(credential.ttlSeconds)): \(decision)"
                if !rules.isEmpty { line += " (rules: \(rules.map(TerminalText.escaped).joined(separator: ", ")))" }
                if let ttl, decision == "permit" {
                    line += ", at most \(Self.duration(ttl)) per credential"
                }
                if decision != "permit" {
                    ok = false
                    line += decision == "pending_approval"
                        ? ": the agent needs a permit at once (one call, no approval)" : ""
                }
                print(line)
            } catch {
                ok = false
                print("\(credential.name): \(error.description)")
            }
        }
        await broker.shutdown()
        return ok
    }

    static func duration(_ seconds: Int64) -> String { DurationText.format(seconds) }

    /// Starts `/healthz` and `/metrics` when configured, and waits until they listen: a port in use fails the start.
    private func startStatusServer() async throws -> StatusServer? {
        guard let listen = configuration.listen else { return nil }
        let router = Router()
        let status = self.status
        router.get("healthz") { _, _ -> Response in
            let health = status.health
            return Response(
                status: health.healthy ? .ok : .serviceUnavailable, headers: [.contentType: "application/json"],
                body: .init(byteBuffer: ByteBuffer(string: health.json.description + "\n")))
        }
        router.get("metrics") { _, _ -> Response in
            Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(string: status.metrics)))
        }
        var quiet = logger
        quiet.logLevel = .warning
        let app = Application(
            router: router,
            configuration: .init(address: .hostname(listen.host, port: listen.port), serverName: "airlock-agent"),
            onServerRunning: { [listening] channel in
                listening.port.withLock { $0 = channel.localAddress?.port ?? listen.port }
            },
            logger: quiet)
        let group = ServiceGroup(configuration: .init(services: [app], gracefulShutdownSignals: [], logger: quiet))
        let task = Task { [listening] in
            do {
                try await group.run()
                listening.failure.withLock { $0 = $0 ?? "it stopped" }
            } catch {
                listening.failure.withLock { $0 = "\(error)" }
                throw error
            }
        }
        while statusPort == nil {
            if let failure = listening.failure.withLock({ $0 }) {
                throw AgentStartFailure(description: "cannot serve /healthz and /metrics on \(listen.host):\(listen.port): \(failure)")
            }
            try await Task.sleep(for: .milliseconds(10))
        }
        logger.info("serving /healthz and /metrics", metadata: ["address": "\(listen.host):\(statusPort ?? 0)"])
        return StatusServer(group: group, task: task)
    }

}

/// The status server, stopped gracefully at the agent's end.
struct StatusServer: Sendable {
    let group: ServiceGroup
    let task: Task<Void, any Error>

    func stop() async {
        await group.triggerGracefulShutdown()
        _ = await task.result
    }
}

/// The agent could not start.
public struct AgentStartFailure: Error, Sendable, CustomStringConvertible {
    public let description: String
}

/// The status server's port once it listens, or why it stopped (a class: a `Mutex` cannot be captured by the
/// server's closures).
private final class PortBox: Sendable {
    let port = Mutex<Int?>(nil)
    let failure = Mutex<String?>(nil)
}
