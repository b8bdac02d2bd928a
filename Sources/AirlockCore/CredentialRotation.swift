import Foundation

/// One credential a long-running service keeps fresh (the groundwork of `airlock agent`, issue 18), as a pure state
/// machine like the request's: events carry their time, ``apply(_:)`` returns what the agent must do, and nothing
/// here reads a clock or the network.
///
/// The credential is renewed when about two thirds of its current period have passed (jittered, so that many agents
/// started together do not renew together). When the broker will not extend it (the policy's cap is reached, or the
/// policy refuses), a new one is issued while the old one still works; the new one is handed over at once and the
/// old one revoked after a grace period, so the application never holds an ended login. A refusal is reported
/// every time, never silently; the current credential is kept until it ends. When the broker cannot be reached the
/// agent retries with exponential backoff and reports once the credential is close to its end.
public struct CredentialRotation: Sendable, Hashable {
    /// A credential as the broker issued it.
    public struct Lease: Sendable, Hashable {
        public var id: UUID
        /// When the current period began: the issue, or the last renewal.
        public var periodStart: Date
        public var expiresAt: Date

        public init(id: UUID, periodStart: Date, expiresAt: Date) {
            self.id = id
            self.periodStart = periodStart
            self.expiresAt = expiresAt
        }

        /// The moment a fraction `fraction` of the current period has passed.
        func point(_ fraction: Double) -> Date {
            periodStart.addingTimeInterval(expiresAt.timeIntervalSince(periodStart) * fraction)
        }
    }

    public struct Settings: Sendable, Hashable {
        /// The fraction of a period after which the credential is renewed (two thirds).
        public var renewAt: Double = 2.0 / 3.0
        /// How far the renewal point may move either way, as a fraction of the period (± 5 %).
        public var jitter: Double = 0.05
        /// How long a superseded credential is kept after its successor is handed over.
        public var graceSeconds: TimeInterval = 30
        /// The first retry after a failure to reach the broker, doubled each time up to ``retryCapSeconds``.
        public var retryBaseSeconds: TimeInterval = 1
        public var retryCapSeconds: TimeInterval = 60
        /// Once less than this fraction of the period is left and the broker cannot be reached or refuses, every
        /// attempt is reported as urgent.
        public var urgentBelow: Double = 1.0 / 6.0

        public init() {}
    }

    /// What happens to the credential. Times travel with the events.
    public enum Event: Sendable, Hashable {
        /// The agent looks at the credential at `now`; `jitter` in -1...1 moves the renewal point by that share of
        /// ``Settings/jitter`` (drawn by the caller from a CSPRNG, fixed in tests).
        case tick(now: Date, jitter: Double)
        /// A credential was issued (the first, or a successor).
        case issued(Lease, at: Date)
        /// A renewal answered with the credential's expiry now.
        case renewed(expiresAt: Date, at: Date)
        /// The broker refused to renew (the policy's cap, or the policy now refuses), saying `reason`.
        case renewalRefused(reason: String, at: Date)
        /// The broker refused to issue a successor, saying `reason`.
        case issueRefused(reason: String, at: Date)
        /// The broker could not be reached (or answered 5xx).
        case brokerUnreachable(at: Date)
        /// A superseded credential was revoked.
        case revoked(UUID, at: Date)
    }

    /// What the agent must do.
    public enum Action: Sendable, Hashable {
        /// Ask for a credential (`POST /v1/credentials`).
        case issue
        /// Renew the current credential.
        case renew(UUID)
        /// Give the application this credential (files, environment, signal), now.
        case handOver(Lease)
        /// Revoke a superseded credential.
        case revoke(UUID)
        /// Tell the operator (log at error, metrics, alert): `urgent` when the credential ends soon without a successor.
        case report(String, urgent: Bool)
        /// Nothing to do before `until`.
        case sleep(until: Date)
    }

    public let settings: Settings
    /// The credential handed over last.
    public private(set) var current: Lease?
    /// Credentials handed over before it, each with when it is to be revoked.
    public private(set) var superseded: [UUID: Date] = [:]
    /// Whether the current credential can no longer be renewed: the next step is a successor.
    public private(set) var needsSuccessor = false
    /// No attempt before this (backoff after a failure or a refusal).
    public private(set) var notBefore: Date?
    /// Failures in a row to reach the broker.
    public private(set) var failures = 0

    public init(settings: Settings = Settings()) {
        self.settings = settings
    }

    /// Applies `event`, returning what to do, in order.
    public mutating func apply(_ event: Event) -> [Action] {
        switch event {
        case .tick(let now, let jitter): return tick(now, jitter: max(-1, min(1, jitter)))
        case .issued(let lease, let at):
            if let previous = current, previous.id != lease.id {
                superseded[previous.id] = at.addingTimeInterval(settings.graceSeconds)
            }
            current = lease
            needsSuccessor = false
            notBefore = nil
            failures = 0
            return [.handOver(lease)]
        case .renewed(let expiresAt, let at):
            failures = 0
            notBefore = nil
            guard var lease = current else { return [] }
            guard expiresAt > lease.expiresAt else {
                // Not extended: the cap is reached. A successor, while this one still works.
                needsSuccessor = true
                return [.issue]
            }
            lease.periodStart = at
            lease.expiresAt = expiresAt
            current = lease
            return []
        case .renewalRefused(let reason, let at):
            failures = 0
            needsSuccessor = true
            return [.report("renewal refused: \(reason); asking for a new credential", urgent: isUrgent(at))] + tick(at, jitter: 0)
        case .issueRefused(let reason, let at):
            failures = 0
            notBefore = at.addingTimeInterval(settings.retryCapSeconds)
            let ending = current.map { " (the current credential ends at \(Self.format($0.expiresAt)))" } ?? ""
            return [.report("a new credential was refused: \(reason)\(ending)", urgent: current == nil || isUrgent(at))]
        case .brokerUnreachable(let at):
            failures += 1
            let delay = min(settings.retryCapSeconds, settings.retryBaseSeconds * pow(2, Double(min(failures - 1, 30))))
            notBefore = at.addingTimeInterval(delay)
            guard current == nil || isUrgent(at) else { return [.sleep(until: notBefore!)] }
            let ending = current.map { "the credential ends at \(Self.format($0.expiresAt))" } ?? "no credential yet"
            return [.report("the broker cannot be reached (\(failures) attempts); \(ending)", urgent: true),
                    .sleep(until: notBefore!)]
        case .revoked(let id, _):
            superseded[id] = nil
            return []
        }
    }

    private func tick(_ now: Date, jitter: Double) -> [Action] {
        var actions: [Action] = superseded.filter { $0.value <= now }.keys.sorted { $0.uuidString < $1.uuidString }
            .map { .revoke($0) }
        if let notBefore, now < notBefore { return actions + [.sleep(until: nextWake(notBefore))] }
        guard let lease = current else { return actions + [.issue] }
        if now >= lease.expiresAt {
            return actions + [.report("the credential ended before a successor was handed over", urgent: true), .issue]
        }
        let renewal = lease.point(settings.renewAt + jitter * settings.jitter)
        if now >= renewal { return actions + [needsSuccessor ? .issue : .renew(lease.id)] }
        actions.append(.sleep(until: nextWake(renewal)))
        return actions
    }

    /// The earlier of `date` and the next superseded credential's revocation.
    private func nextWake(_ date: Date) -> Date {
        superseded.values.reduce(date) { min($0, $1) }
    }

    private func isUrgent(_ now: Date) -> Bool {
        guard let lease = current else { return true }
        return now >= lease.point(1 - settings.urgentBelow)
    }

    static func format(_ date: Date) -> String { AuditTime.format(date) }
}
