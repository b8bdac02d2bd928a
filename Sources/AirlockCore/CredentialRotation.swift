import Foundation

/// One credential a long-running service keeps fresh (`airlock agent`), as a pure state machine like the
/// request's: events carry their time, ``apply(_:)`` returns what the agent must do, and nothing here reads a clock
/// or the network.
///
/// The credential is renewed when about two thirds of its current period have passed (jittered, so that many agents
/// started together do not renew together). When the broker will not extend it to what was asked (the policy's cap
/// is near, or the policy refuses), the current period is the last: a successor is issued while the old one still
/// works — no later than the grace period plus a lead before its end — handed over at once, and the old one revoked
/// after the grace period, so the application never holds an ended login. A refusal is reported and told to the
/// application every time, never silently; the current credential is kept until it ends. When the broker cannot be
/// reached the agent retries with exponential backoff and reports once the credential is close to its end.
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
        /// How long a superseded credential is kept after its successor is handed over: the time the application
        /// has to move its connections to the new login.
        public var graceSeconds: TimeInterval = 30
        /// How long before "end minus grace" a successor is asked for in the last period, for the issue itself.
        public var leadSeconds: TimeInterval = 10
        /// The first retry after a failure to reach the broker, doubled each time up to ``retryCapSeconds`` and never
        /// more than a third of the credential's remaining life (but at least this).
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
        /// A credential was issued (the first, or a successor); `asked` is the expiry asked for (when the request
        /// was sent, plus the TTL): an earlier expiry means the policy's cap makes this period the last.
        case issued(Lease, asked: Date, at: Date)
        /// A renewal answered with the credential's expiry now; `asked` as for ``issued(_:asked:at:)``.
        case renewed(expiresAt: Date, asked: Date, at: Date)
        /// The broker refused to renew (the policy now refuses), saying `reason`.
        case renewalRefused(reason: String, at: Date)
        /// The broker refused to issue a successor, saying `reason`.
        case issueRefused(reason: String, at: Date)
        /// The broker says the current credential has ended (revoked by someone, or ended by a policy change).
        case ended(reason: String, at: Date)
        /// The broker could not be reached (or answered 5xx).
        case brokerUnreachable(at: Date)
        /// A superseded credential was revoked (or had already ended).
        case revoked(UUID, at: Date)
    }

    /// What the application is told besides a hand-over.
    public enum Notice: Sendable, Hashable {
        /// The broker refused to renew or replace the credential: it ends at `endsAt` (nil: there is none).
        case refused(reason: String, endsAt: Date?)
        /// The credential the application holds has ended, and no successor was handed over.
        case ended(reason: String)
    }

    /// What the agent must do.
    public enum Action: Sendable, Hashable {
        /// Ask for a credential (`POST /v1/credentials`).
        case issue
        /// Renew the current credential.
        case renew(UUID)
        /// Give the application this credential (files, environment, signal), now.
        case handOver(Lease)
        /// Tell the application (status file, its command or signal).
        case tellApplication(Notice)
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
    /// Whether the current period is the last (the broker gave less than was asked, or refused): the next step is
    /// a successor.
    public private(set) var needsSuccessor = false
    /// No attempt before this (backoff after a failure or a refusal).
    public private(set) var notBefore: Date?
    /// Failures in a row to reach the broker.
    public private(set) var failures = 0
    /// Whether the application was told its credential ended (so that it is told once).
    private var toldEnded = false

    public init(settings: Settings = Settings()) {
        self.settings = settings
    }

    /// Applies `event`, returning what to do, in order.
    public mutating func apply(_ event: Event) -> [Action] {
        switch event {
        case .tick(let now, let jitter): return tick(now, jitter: max(-1, min(1, jitter)))
        case .issued(let lease, let asked, let at):
            if let previous = current, previous.id != lease.id {
                superseded[previous.id] = min(at.addingTimeInterval(settings.graceSeconds), previous.expiresAt)
            }
            current = lease
            needsSuccessor = Self.capped(lease.expiresAt, asked: asked, at: at)
            notBefore = nil
            failures = 0
            toldEnded = false
            return [.handOver(lease)]
        case .renewed(let expiresAt, let asked, let at):
            failures = 0
            notBefore = nil
            guard var lease = current else { return [] }
            guard expiresAt > lease.expiresAt else {
                // Not extended at all: the cap is reached. A successor, while this one still works.
                needsSuccessor = true
                return [.issue]
            }
            lease.periodStart = at
            lease.expiresAt = expiresAt
            current = lease
            needsSuccessor = Self.capped(expiresAt, asked: asked, at: at)
            return []
        case .renewalRefused(let reason, let at):
            failures = 0
            needsSuccessor = true
            return [.report("renewal refused: \(reason); asking for a new credential", urgent: isUrgent(at))]
                + tick(at, jitter: 0)
        case .issueRefused(let reason, let at):
            failures = 0
            notBefore = at.addingTimeInterval(settings.retryCapSeconds)
            let ending = current.map { " (the current credential ends at \(Self.format($0.expiresAt)))" } ?? ""
            return [.report("a new credential was refused: \(reason)\(ending)", urgent: current == nil || isUrgent(at)),
                    .tellApplication(.refused(reason: reason, endsAt: current?.expiresAt))]
        case .ended(let reason, let at):
            failures = 0
            notBefore = nil
            guard let lease = current else { return tick(at, jitter: 0) }
            current = nil
            needsSuccessor = false
            toldEnded = true
            return [.report("the credential \(lease.id.uuidString.lowercased()) has ended: \(reason)", urgent: true),
                    .tellApplication(.ended(reason: reason))] + tick(at, jitter: 0)
        case .brokerUnreachable(let at):
            failures += 1
            var delay = min(settings.retryCapSeconds, settings.retryBaseSeconds * pow(2, Double(min(failures - 1, 30))))
            if let lease = current, lease.expiresAt > at {
                // Near the end, never wait more than a third of what is left: the attempt that can still save the
                // credential must come before it ends.
                delay = min(delay, max(settings.retryBaseSeconds, lease.expiresAt.timeIntervalSince(at) / 3))
            }
            let until = at.addingTimeInterval(delay)
            notBefore = until
            guard current == nil || isUrgent(at) else { return [.sleep(until: nextWake(until))] }
            let ending = current.map { "the credential ends at \(Self.format($0.expiresAt))" } ?? "no credential yet"
            return [.report("the broker cannot be reached (\(failures) attempts); \(ending)", urgent: true),
                    .sleep(until: nextWake(until))]
        case .revoked(let id, _):
            superseded[id] = nil
            return []
        }
    }

    /// The credentials to revoke at shutdown: the current one and every superseded one.
    public var held: [UUID] {
        (current.map { [$0.id] } ?? []) + superseded.keys.sorted { $0.uuidString < $1.uuidString }
    }

    private mutating func tick(_ now: Date, jitter: Double) -> [Action] {
        var actions: [Action] = superseded.filter { $0.value <= now }.keys.sorted { $0.uuidString < $1.uuidString }
            .map { .revoke($0) }
        if let lease = current, now >= lease.expiresAt {
            // Ended with no successor handed over: the application holds a dead login.
            current = nil
            needsSuccessor = false
            if !toldEnded {
                toldEnded = true
                actions += [.report("the credential ended before a successor was handed over", urgent: true),
                            .tellApplication(.ended(reason: "it expired"))]
            }
        }
        if let notBefore, now < notBefore { return actions + [.sleep(until: nextWake(notBefore))] }
        guard let lease = current else { return actions + [.issue] }
        let renewal = lease.point(settings.renewAt + jitter * settings.jitter)
        let due = needsSuccessor ? min(renewal, successorDeadline(lease)) : renewal
        if now >= due { return actions + [needsSuccessor ? .issue : .renew(lease.id)] }
        actions.append(.sleep(until: nextWake(due)))
        return actions
    }

    /// In the last period, the latest moment to ask for a successor: the grace period and the lead before the end.
    private func successorDeadline(_ lease: Lease) -> Date {
        lease.expiresAt.addingTimeInterval(-(settings.graceSeconds + settings.leadSeconds))
    }

    /// Whether the broker gave less than was asked (beyond the round trip's slack): the policy's cap is near.
    private static func capped(_ expiresAt: Date, asked: Date, at: Date) -> Bool {
        let slack = min(1, max(0, asked.timeIntervalSince(at)) * 0.05)
        return expiresAt < asked.addingTimeInterval(-slack)
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
