import AirlockCore

/// How a SIEM sink writes each audit event: one JSON object per line, in either format.
public enum AuditSinkFormat: String, Sendable, CaseIterable {
    /// The event as chained: the stored CloudEvent with `sequence`, `prevhash` and `hash`, as RFC 8785 canonical JSON
    /// (what `GET /v1/audit` and `airlock audit tail --json` give), so the chain can be verified from the lines alone.
    case cloudevents
    /// The event's OCSF 1.8.0 records (``OCSFRecord/records(for:productVersion:)``): one, or two for an event that
    /// created or dropped a PostgreSQL login.
    case ocsf

    /// The lines of `event` in this format, without their newlines.
    ///
    /// - Throws: ``AuditError`` `invalid_event` when the format is `ocsf` and `event` is not an audit event as
    ///   Airlock stores it.
    public func lines(for event: JSONValue, productVersion: String = AirlockVersion.current) throws -> [String] {
        switch self {
        case .cloudevents:
            [event.canonicalString()]
        case .ocsf:
            try OCSFRecord.records(for: event, productVersion: productVersion).map { $0.canonicalString() }
        }
    }
}
