import AirlockCore
import AirlockRisk
import AirlockStore
import Foundation
import Logging

/// What a security integration reports: a risk signal about a principal (`POST /v1/signals`,
/// `airlock signal add`).
public struct NewSignal: Sendable, Hashable {
    /// The principal id it is about: 1 to 256 bytes of UTF-8, no U+0000.
    public var principal: String
    /// Its name in `risk.signals`: `^[a-z][a-z0-9_]{0,62}$`, not one of ``Signals/reservedNames``.
    public var name: String
    /// `info`, `low`, `medium`, `high` or `critical`.
    public var severity: String
    /// How long it counts: 60 seconds to 30 days.
    public var ttlSeconds: Int64
    /// What the sender says about it: at most 1,000 characters; nil or empty for none.
    public var detail: String?

    public init(principal: String, name: String, severity: String, ttlSeconds: Int64, detail: String? = nil) {
        self.principal = principal
        self.name = name
        self.severity = severity
        self.ttlSeconds = ttlSeconds
        self.detail = detail
    }
}

/// External risk signals, for admins and security integrations (`signals` scope): recorded, listed, withdrawn.
/// The HTTP routes and `airlock signal` call the same checks; who may call is the routes' to decide.
public struct Signals: Sendable {
    public let store: SignalStore
    /// Asked to re-decide the principal's active leases as soon as a signal about them is recorded.
    public let reevaluation: any LeaseReevaluation

    public init(store: SignalStore, reevaluation: any LeaseReevaluation = NoLeaseReevaluation()) {
        self.store = store
        self.reevaluation = reevaluation
    }

    /// The names Airlock's own risk engine gives its signals (``BuiltInRiskSignal``, and
    /// ``BaselineRiskAssessor/unavailableSignal``): an external signal may not take one, or it would read in
    /// `risk.signals` as something Airlock observed.
    public static let reservedNames: [String] =
        BuiltInRiskSignal.allCases.map(\.rawValue) + [BaselineRiskAssessor.unavailableSignal]

    /// Checks `ask` and records it as sent by `source` (the caller's principal id), active from now for its TTL.
    public func add(_ ask: NewSignal, by source: String, logger: Logger) async throws -> ExternalSignal {
        let checked = try Self.validate(ask)
        let signal = try await store.add(
            principal: checked.principal, name: checked.name, severity: checked.severity, detail: checked.detail,
            ttlSeconds: checked.ttlSeconds, source: source, logger: logger)
        // Recorded first: the signal counts in every decision from now on, whatever happens below. Then the leases
        // it may end are re-decided before the sender is answered (revoked within the call, or left revoking and
        // retried by the sweep); a failure here is logged, and the periodic re-evaluation catches up.
        do {
            try await reevaluation.reevaluate(
                principal: signal.principal,
                because: "signal \(signal.name) (\(signal.severity.rawValue)) from \(signal.source)")
        } catch {
            logger.error("re-deciding leases after a signal failed; the periodic re-evaluation will retry", metadata: [
                "signal_id": "\(signal.id)", "error": "\(error)",
            ])
        }
        return signal
    }

    /// One page of signals, newest first: those active now, or all of them with `includeInactive`; only about
    /// `principal` when given.
    public func list(
        principal: String?, includeInactive: Bool, limit: Int = 100, after cursor: UUID? = nil, logger: Logger
    ) async throws -> (items: [ExternalSignal], nextCursor: UUID?) {
        if let principal { try Self.checkPrincipal(principal, named: "principal") }
        return try await store.list(
            principal: principal, includeInactive: includeInactive, limit: limit, after: cursor, logger: logger)
    }

    /// The signals about `principal` active at `time`: what the risk engine names in `risk.signals`.
    public func active(for principal: String, at time: Date) async throws -> [ExternalSignal] {
        try await store.active(for: principal, at: time)
    }

    /// Withdraws the signal `id` now (audited); withdrawing it again changes nothing. Returns it as it now is.
    @discardableResult
    public func withdraw(_ id: UUID, by actor: String, logger: Logger) async throws -> ExternalSignal {
        switch try await store.withdraw(id, by: actor, logger: logger) {
        case .withdrawn(let signal), .alreadyWithdrawn(let signal): return signal
        case .notFound: throw BrokerError.notFound("no such signal")
        }
    }

    /// A signal's values as checked.
    public struct Checked: Sendable, Hashable {
        public var principal: String
        public var name: String
        public var severity: Severity
        public var ttlSeconds: Int64
        public var detail: String?
    }

    /// The checks of a new signal (nothing is stored when one fails).
    public static func validate(_ ask: NewSignal) throws(BrokerError) -> Checked {
        try checkPrincipal(ask.principal, named: "principal")
        guard ExternalSignal.isWellFormedName(ask.name) else {
            throw .invalidInput(
                "`signal` `\(BrokerError.shown(ask.name))` must match `^[a-z][a-z0-9_]{0,62}$`, e.g. device_compromised")
        }
        guard !reservedNames.contains(ask.name) else {
            throw .invalidInput(
                "`signal` `\(ask.name)` is a signal airlock computes itself; name the external finding, "
                    + "e.g. device_compromised")
        }
        guard let severity = Severity(rawValue: ask.severity) else {
            throw .invalidInput("`severity` must be one of \(Severity.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        guard (ExternalSignal.minimumTTLSeconds...ExternalSignal.maximumTTLSeconds).contains(ask.ttlSeconds) else {
            throw .invalidInput(
                "`ttl_seconds` must be between \(ExternalSignal.minimumTTLSeconds) and "
                    + "\(ExternalSignal.maximumTTLSeconds) (30 days)")
        }
        let detail = ask.detail.flatMap { $0.isEmpty ? nil : $0 }
        if let detail {
            guard detail.unicodeScalars.count <= ExternalSignal.maximumDetailLength else {
                throw .invalidInput("`detail` is longer than \(ExternalSignal.maximumDetailLength) characters")
            }
            guard !detail.unicodeScalars.contains(where: { $0.value < 0x20 && $0 != "\n" && $0 != "\t" }) else {
                throw .invalidInput("`detail` contains control characters")
            }
        }
        return Checked(
            principal: ask.principal, name: ask.name, severity: severity, ttlSeconds: ask.ttlSeconds, detail: detail)
    }

    /// A principal id as Airlock takes them (the kill switch's rule): 1 to 256 bytes of UTF-8, no U+0000
    /// (PostgreSQL text cannot hold it, so no principal has it).
    static func checkPrincipal(_ principal: String, named name: String) throws(BrokerError) {
        guard !principal.isEmpty, principal.utf8.count <= ExternalSignal.maximumPrincipalBytes,
              !principal.unicodeScalars.contains("\u{0}") else {
            throw .invalidInput(
                "`\(name)` must be a principal id of 1 to \(ExternalSignal.maximumPrincipalBytes) bytes, without U+0000")
        }
    }
}
