import AirlockCore
import Foundation
import Logging

/// Whoever the agent hands credentials to: the files, the hook and the application (``Agent``).
protocol CredentialRecipient: Sendable {
    /// `credential` replaces what `name` held.
    func handOver(_ name: String, _ credential: DeliveredCredential) async
    /// Something the application must know: a refusal, or the end of what it holds.
    func tell(_ name: String, _ notice: CredentialRotation.Notice) async
    /// The agent stopped holding `name` (revoked at shutdown, or left to expire).
    func released(_ name: String, revoked: Bool) async
}

/// Keeps one configured credential fresh: drives ``CredentialRotation`` with the time and a CSPRNG's jitter, does
/// what it says against the broker, and hands every new credential to the recipient. Runs until cancelled; then
/// ``release(revoke:)`` gives back what it holds.
actor CredentialKeeper {
    let credential: AgentConfiguration.Credential
    private var rotation: CredentialRotation
    private let broker: AgentBroker
    private let recipient: any CredentialRecipient
    private let status: AgentStatus
    private let clock: any WallClock
    private let logger: Logger
    /// An issued credential on its way to the hand-over (then the recipient holds it).
    private var pending: DeliveredCredential?

    init(
        credential: AgentConfiguration.Credential, settings: CredentialRotation.Settings, broker: AgentBroker,
        recipient: any CredentialRecipient, status: AgentStatus, clock: any WallClock, logger: Logger
    ) {
        self.credential = credential
        self.rotation = CredentialRotation(settings: settings)
        self.broker = broker
        self.recipient = recipient
        self.status = status
        self.clock = clock
        var logger = logger
        logger[metadataKey: "credential"] = .string(credential.name)
        self.logger = logger
    }

    /// Ticks, acts and sleeps until the task is cancelled. Never sleeps longer than a minute between looks, so a
    /// clock jump or a suspended machine is noticed.
    func run() async {
        while !Task.isCancelled {
            var queue = rotation.apply(.tick(now: clock.now(), jitter: periodJitter()))
            var wake: Date?
            while !queue.isEmpty, !Task.isCancelled {
                let action = queue.removeFirst()
                if case .sleep(let until) = action {
                    wake = until
                    continue
                }
                queue += await perform(action)
            }
            syncStatus()
            let delay = (wake ?? clock.now()).timeIntervalSince(clock.now())
            try? await Task.sleep(for: .milliseconds(Int64(min(60, max(0.02, delay)) * 1000)))
        }
    }

    /// The jitter of the current period: drawn once per period (from the CSPRNG), so that looking again does not
    /// move the renewal point.
    private var jitter: (period: CredentialRotation.Lease?, value: Double) = (nil, 0)

    private func periodJitter() -> Double {
        if jitter.period != rotation.current || jitter.period == nil {
            var generator = SystemRandomNumberGenerator()
            jitter = (rotation.current, Double.random(in: -1...1, using: &generator))
        }
        return jitter.value
    }

    /// Gives back what is held: revokes it (when `revoke`) and tells the recipient. Call after ``run()`` ended.
    func release(revoke: Bool) async {
        var revoked = true
        if revoke {
            for id in rotation.held {
                do {
                    try await broker.revoke(id)
                    status.update(credential.name) { $0.revoked += 1 }
                    logger.info("credential revoked at shutdown", metadata: ["lease_id": "\(id.uuidString.lowercased())"])
                } catch {
                    revoked = false
                    logger.error("could not revoke at shutdown; the broker ends it at its expiry", metadata: [
                        "lease_id": "\(id.uuidString.lowercased())", "error": "\(error.description)",
                    ])
                }
            }
        }
        status.update(credential.name) { $0.expiresAt = nil; $0.leaseID = nil }
        await recipient.released(credential.name, revoked: revoke && revoked)
    }

    private func perform(_ action: CredentialRotation.Action) async -> [CredentialRotation.Action] {
        switch action {
        case .issue:
            let sent = clock.now()
            do {
                let issued = try await broker.issue(credential)
                let now = clock.now()
                pending = issued
                status.update(credential.name) { $0.issued += 1 }
                logger.info("credential issued", metadata: metadata(issued))
                let lease = CredentialRotation.Lease(id: issued.leaseID, periodStart: now, expiresAt: issued.expiresAt)
                return rotation.apply(.issued(lease, asked: asked(sent), at: now))
            } catch {
                return failed(error, renewing: false)
            }
        case .renew(let id):
            let sent = clock.now()
            do {
                let expires = try await broker.renew(id, ttlSeconds: credential.ttlSeconds)
                status.update(credential.name) { $0.renewed += 1 }
                logger.info("credential renewed", metadata: [
                    "lease_id": "\(id.uuidString.lowercased())", "expires_at": "\(AuditTime.format(expires))",
                ])
                return rotation.apply(.renewed(expiresAt: expires, asked: asked(sent), at: clock.now()))
            } catch {
                return failed(error, renewing: true)
            }
        case .handOver(let lease):
            guard let handed = pending, handed.leaseID == lease.id else { return [] }
            pending = nil
            syncStatus()
            await recipient.handOver(credential.name, handed)
            logger.info("credential handed over", metadata: metadata(handed))
            return []
        case .tellApplication(let notice):
            await recipient.tell(credential.name, notice)
            return []
        case .revoke(let id):
            do {
                try await broker.revoke(id)
                status.update(credential.name) { $0.revoked += 1 }
                logger.info("superseded credential revoked", metadata: ["lease_id": "\(id.uuidString.lowercased())"])
                return rotation.apply(.revoked(id, at: clock.now()))
            } catch .unreachable(let text), .unauthorized(let text) {
                count("unreachable", problem: text)
                return rotation.apply(.brokerUnreachable(at: clock.now()))
            } catch {
                // Refused (it should not be: it is ours) or rejected: it ends at its expiry; stop trying.
                count("rejected", problem: error.description)
                logger.error("could not revoke a superseded credential; it ends at its expiry", metadata: [
                    "lease_id": "\(id.uuidString.lowercased())", "error": "\(error.description)",
                ])
                return rotation.apply(.revoked(id, at: clock.now()))
            }
        case .report(let text, let urgent):
            status.update(credential.name) { $0.lastProblem = text }
            if urgent { logger.critical("\(text)") } else { logger.error("\(text)") }
            return []
        case .sleep:
            return []
        }
    }

    private func failed(_ error: AgentBroker.Failure, renewing: Bool) -> [CredentialRotation.Action] {
        let now = clock.now()
        switch error {
        case .unreachable(let text):
            count("unreachable", problem: text)
            logger.warning("the broker cannot be reached", metadata: ["error": "\(text)"])
            return rotation.apply(.brokerUnreachable(at: now))
        case .unauthorized(let text):
            count("unauthorized", problem: text)
            logger.error("the broker refused the agent's token; retrying (is the token file current?)", metadata: ["error": "\(text)"])
            return rotation.apply(.brokerUnreachable(at: now))
        case .gone(let text) where renewing:
            count("ended", problem: text)
            return rotation.apply(.ended(reason: text, at: now))
        case .refused, .rejected, .gone:
            count(error.kind, problem: error.description)
            return rotation.apply(renewing ? .renewalRefused(reason: error.description, at: now)
                                           : .issueRefused(reason: error.description, at: now))
        }
    }

    private func count(_ kind: String, problem: String) {
        status.update(credential.name) {
            $0.failures[kind, default: 0] += 1
            $0.lastProblem = problem
        }
    }

    private func syncStatus() {
        let lease = rotation.current
        status.update(credential.name) {
            $0.leaseID = lease?.id
            $0.expiresAt = lease?.expiresAt
        }
    }

    private func asked(_ sent: Date) -> Date {
        sent.addingTimeInterval(TimeInterval(credential.ttlSeconds))
    }

    private func metadata(_ credential: DeliveredCredential) -> Logger.Metadata {
        var metadata: Logger.Metadata = [
            "lease_id": "\(credential.leaseID.uuidString.lowercased())",
            "expires_at": "\(AuditTime.format(credential.expiresAt))",
        ]
        if let username = credential.username { metadata["username"] = "\(username)" }
        return metadata
    }
}

extension AgentBroker.Failure {
    /// The metric's `kind` label.
    var kind: String {
        switch self {
        case .unreachable: "unreachable"
        case .unauthorized: "unauthorized"
        case .refused: "refused"
        case .gone: "ended"
        case .rejected: "rejected"
        }
    }
}
