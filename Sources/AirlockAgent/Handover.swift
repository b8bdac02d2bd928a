import AirlockCore
import Foundation
import Logging

/// Where credentials go once the agent has them: the configured files (atomically, 0600), the credential's
/// `on_change` hook, and the application `airlock agent -- COMMAND` runs (started once every credential is held,
/// then restarted or signalled on each rotation).
actor Handover: CredentialRecipient {
    private let configuration: AgentConfiguration
    private let environment: [String: String]
    private let clock: any WallClock
    private let logger: Logger
    private let status: AgentStatus
    private var application: ApplicationProcess?
    private var applicationStarted = false
    /// What each credential holds now.
    private var held: [String: DeliveredCredential] = [:]
    private var waiters: [CheckedContinuation<Void, Never>] = []
    /// Set at shutdown: nobody waits for credentials any more.
    private var closed = false

    init(
        configuration: AgentConfiguration, environment: [String: String], clock: any WallClock, status: AgentStatus,
        logger: Logger
    ) {
        self.configuration = configuration
        self.status = status
        self.environment = environment
        self.clock = clock
        self.logger = logger
    }

    func attach(_ application: ApplicationProcess?) {
        self.application = application
    }

    private func credential(_ name: String) -> AgentConfiguration.Credential? {
        configuration.credentials.first { $0.name == name }
    }

    func handOver(_ name: String, _ credential: DeliveredCredential) async {
        guard let configured = self.credential(name) else { return }
        held[name] = credential
        for output in configured.outputs {
            do {
                let text = try CredentialFiles.text(output.format, credential)
                    ?? CredentialFiles.status(name: name, state: .active, credential: credential, message: nil, at: clock.now())
                try CredentialFiles.write(text, to: output.path)
            } catch {
                status.update(name) {
                    $0.failures["output", default: 0] += 1
                    $0.lastProblem = error.description
                }
                logger.critical("cannot hand the credential over in a file", metadata: [
                    "credential": "\(name)", "error": "\(error.description)",
                ])
            }
        }
        if held.count == configuration.credentials.count {
            waiters.forEach { $0.resume() }
            waiters = []
        }
        await runHook(configured, event: "rotated", expiresAt: credential.expiresAt)
        guard let application, applicationStarted else { return }
        switch configuration.applicationRotation {
        case .restart:
            logger.info("restarting the application with the new credential", metadata: ["credential": "\(name)"])
            await application.stop(timeout: configuration.stopTimeoutSeconds)
            do {
                try application.start(environment: applicationEnvironment())
            } catch {
                logger.critical("cannot restart the application", metadata: ["error": "\(error.description)"])
            }
        case .signal(let number):
            application.signal(number)
        case .none:
            break
        }
    }

    func tell(_ name: String, _ notice: CredentialRotation.Notice) async {
        guard let configured = self.credential(name) else { return }
        let state: CredentialFiles.State
        let message: String
        var ends: Date?
        switch notice {
        case .refused(let reason, let endsAt):
            state = .refused
            ends = endsAt
            message = "the broker refused a new credential: \(reason)"
                + (endsAt.map { "; the current one ends at \(AuditTime.format($0))" } ?? "")
        case .ended(let reason):
            state = .ended
            message = "the credential has ended: \(reason)"
            held[name] = nil
        }
        let current = held[name]
        writeStatus(configured, state: state, credential: current, expiresAt: ends, message: message,
                    removingSecrets: state == .ended)
        await runHook(configured, event: state.rawValue, expiresAt: ends ?? current?.expiresAt)
    }

    func released(_ name: String, revoked: Bool) async {
        guard let configured = self.credential(name) else { return }
        held[name] = nil
        writeStatus(configured, state: .stopped, credential: nil,
                    message: revoked ? "the agent stopped and revoked the credential" : "the agent stopped",
                    removingSecrets: true)
    }

    private func writeStatus(
        _ configured: AgentConfiguration.Credential, state: CredentialFiles.State, credential: DeliveredCredential?,
        expiresAt: Date? = nil, message: String, removingSecrets: Bool
    ) {
        for output in configured.outputs {
            if output.format == .status {
                do {
                    try CredentialFiles.write(
                        CredentialFiles.status(
                            name: configured.name, state: state, credential: credential, expiresAt: expiresAt,
                            message: message, at: clock.now()),
                        to: output.path)
                } catch {
                    logger.error("cannot write the status file", metadata: ["error": "\(error.description)"])
                }
            } else if removingSecrets {
                CredentialFiles.remove(output.path)
            }
        }
    }

    /// Waits until every configured credential has been handed over once, or the agent stops (``close()``).
    func waitUntilEveryCredentialIsHeld() async {
        if closed || held.count == configuration.credentials.count { return }
        await withCheckedContinuation { waiters.append($0) }
    }

    /// The agent stops: whoever waits for credentials stops waiting.
    func close() {
        closed = true
        waiters.forEach { $0.resume() }
        waiters = []
    }

    func startApplication() throws(ApplicationProcess.Failure) {
        guard let application else { return }
        do {
            try application.start(environment: applicationEnvironment())
            applicationStarted = true
            logger.info("application started", metadata: ["pid": "\(application.pid.map(String.init) ?? "?")"])
        } catch {
            logger.critical("cannot start the application", metadata: ["error": "\(error.description)"])
            throw error
        }
    }

    /// The application's environment: the agent's, without its token and any libpq variable, with each
    /// credential's variables (prefixed by its `env_prefix`).
    func applicationEnvironment() -> [String: String] {
        ApplicationEnvironment.make(
            parent: environmentWithoutToken,
            credentials: configuration.credentials.compactMap { configured in
                held[configured.name].map { (configured.environmentPrefix, $0) }
            })
    }

    /// The agent's environment without any token: `AIRLOCK_TOKEN` and the `auth.token_env` variable. What the
    /// application and the hooks start from.
    private var environmentWithoutToken: [String: String] {
        var tokenVariables: Set<String> = ["AIRLOCK_TOKEN"]
        if case .tokenEnvironment(let name) = configuration.authentication { tokenVariables.insert(name) }
        return environment.filter { !tokenVariables.contains($0.key) }
    }

    /// Runs the credential's hook: its command (no shell, with the event in its environment, no secret), or its
    /// signal to the process in the pid file. A hook that does not finish in 30 s is killed.
    private func runHook(_ configured: AgentConfiguration.Credential, event: String, expiresAt: Date?) async {
        switch configured.onChange {
        case nil:
            return
        case .signal(let number, let pidFile):
            guard let text = try? String(contentsOfFile: pidFile, encoding: .utf8),
                  let pid = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)), pid > 1 else {
                logger.error("cannot read a process id from the pid file", metadata: ["pid_file": "\(pidFile)"])
                return
            }
            if kill(pid, number) != 0 {
                logger.error("cannot signal the application", metadata: ["pid": "\(pid)", "error": "\(String(cString: strerror(errno)))"])
            }
        case .command(let command):
            var variables = environmentWithoutToken
            variables["AIRLOCK_AGENT_EVENT"] = event
            variables["AIRLOCK_CREDENTIAL_NAME"] = configured.name
            if let expiresAt { variables["AIRLOCK_CREDENTIAL_EXPIRES_AT"] = AuditTime.format(expiresAt) }
            let hook = ApplicationProcess(command: command)
            do {
                try hook.start(environment: variables)
            } catch {
                logger.error("cannot run the on_change command", metadata: ["error": "\(error.description)"])
                return
            }
            let status = await withTaskGroup(of: Int32?.self) { group in
                group.addTask { await hook.exited() }
                group.addTask {
                    try? await Task.sleep(for: .seconds(30))
                    return nil
                }
                let first = await group.next() ?? nil
                group.cancelAll()
                return first
            }
            if status == nil { await hook.stop(timeout: 1) }
            if status != 0 {
                logger.error("the on_change command failed", metadata: [
                    "event": "\(event)", "status": "\(status.map(String.init) ?? "timed out")",
                ])
            }
        }
    }
}

/// The environment a program gets with credentials: its parent's without any libpq variable (every name starting
/// with `PG`: `PGHOSTADDR`, `PGSERVICE`, `PGPASSFILE`, `PGOPTIONS`, ... could send the credential elsewhere or
/// change the connection), then each credential's variables under its prefix.
public enum ApplicationEnvironment {
    public static func make(parent: [String: String], credentials: [(prefix: String, credential: DeliveredCredential)]) -> [String: String] {
        var environment = parent.filter { !$0.key.hasPrefix("PG") }
        for (prefix, credential) in credentials {
            for variable in credential.environment { environment[prefix + variable.key] = variable.value }
        }
        return environment
    }
}
