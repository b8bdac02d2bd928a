import AirlockCore
import AirlockStore
import Foundation
import Logging

/// What Airlock does with a Security Event Token a Shared Signals transmitter pushed (issue 16, the receiver):
/// the CAEP and RISC events about a person become external risk signals on that principal, which count in every
/// decision and re-decide their active leases at once; verification events are answered; anything else is recorded.
/// Every SET is recorded and audited once (`airlock.ssf.received`); a `jti` the transmitter used before is refused.
/// The route checks the SET itself (signature, issuer, audience, age) and maps its subject.
public struct SharedSignalsReceiver: Sendable {
    public let store: SecurityEventStore
    /// Asked to re-decide the principal's active leases once a signal about them is recorded.
    public let reevaluation: any LeaseReevaluation

    public init(store: SecurityEventStore, reevaluation: any LeaseReevaluation = NoLeaseReevaluation()) {
        self.store = store
        self.reevaluation = reevaluation
    }

    /// What became of a SET.
    public enum Outcome: Sendable, Hashable {
        /// It became this risk signal.
        case signal(ExternalSignal)
        /// A verification event: recorded.
        case verification
        /// Recorded, and nothing more, for this reason (an event type Airlock does not act on, a subject that is no
        /// principal here).
        case ignored(String)
        /// The transmitter sent this `jti` before: refused, nothing recorded.
        case replayed
    }

    /// Records `event`, acting on it as `mapping` says (the transmitter's signal for its event type; nil: the type
    /// is not acted on). Its `jti` stays claimed until `replayableUntil`.
    public func receive(
        _ event: ReceivedSecurityEvent, mapping: SharedSignalEvent.SignalMapping?, replayableUntil: Date,
        logger: Logger
    ) async throws -> Outcome {
        let outcome: SecurityEventStore.Outcome
        if event.knownEvent == .verification {
            outcome = .verification
        } else if let mapping {
            if event.principal != nil {
                outcome = .signal(
                    name: mapping.name, severity: mapping.severity, ttlSeconds: mapping.ttlSeconds,
                    detail: Self.detail(event))
            } else {
                outcome = .ignored(event.unmappedReason ?? "the event names no subject")
            }
        } else {
            outcome = .ignored("airlock is not configured to act on this event type")
        }
        switch try await store.record(event, as: outcome, replayableUntil: replayableUntil, logger: logger) {
        case .replayed:
            return .replayed
        case .recorded(let signal?):
            // Recorded first: the signal counts in every decision from now on. Then the leases it may end are
            // re-decided before the transmitter is answered; a failure here is logged and the periodic
            // re-evaluation catches up.
            do {
                try await reevaluation.reevaluate(
                    principal: signal.principal,
                    because: "signal \(signal.name) (\(signal.severity.rawValue)) from \(event.transmitter), "
                        + "SET jti \(event.jti)")
            } catch {
                logger.error("re-deciding leases after a shared signal failed; the periodic re-evaluation will retry",
                             metadata: ["signal_id": "\(signal.id)", "jti": "\(event.jti)", "error": "\(error)"])
            }
            return .signal(signal)
        case .recorded(nil):
            if case .ignored(let reason) = outcome { return .ignored(reason) }
            return .verification
        }
    }

    /// The detail of the signal an event becomes: what happened, from whom, the SET's `jti` and `txn`, and the
    /// transmitter's reason; at most ``ExternalSignal/maximumDetailLength`` characters, without control characters.
    static func detail(_ event: ReceivedSecurityEvent) -> String {
        var text = "\(event.knownEvent?.shortName ?? event.eventType) from \(event.transmitter) (SET jti \(event.jti)"
        if let transaction = event.transaction { text += ", txn \(transaction)" }
        text += ")"
        if let reason = event.reason, !reason.isEmpty { text += ": " + reason }
        let cleaned = String(String.UnicodeScalarView(text.unicodeScalars.map {
            $0.value < 0x20 || $0.value == 0x7F ? " " : $0
        }))
        return String(String.UnicodeScalarView(cleaned.unicodeScalars.prefix(ExternalSignal.maximumDetailLength)))
    }
}
