/// Where chained audit events are copied for a SIEM: a JSON Lines file or standard output, written by the audit
/// delivery adapter (`AirlockAudit`).
///
/// The broker's sink dispatcher hands it the chain in sequence order, a batch at a time, and records how far it got
/// (its durable cursor) only after ``write(_:)`` returns: so `write` returns only once the events are durable, and a
/// batch that throws is handed over again, whole, on the next attempt (at-least-once: after a crash between the two,
/// the same events are written again, identical).
public protocol AuditSink: Sendable {
    /// What the sink writes to, for logs: a path, or `stdout`.
    var destination: String { get }

    /// Writes `events` (chained CloudEvents with `sequence`, `prevhash` and `hash`, in sequence order) and makes them
    /// durable before returning. Throws when they could not all be written; the error's description names the
    /// destination and the cause, and never a secret (audit events hold none).
    func write(_ events: [JSONValue]) async throws
}
