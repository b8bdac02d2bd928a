import Foundation

/// An audit event as a caller records it, before it has an id, a time or a place in the chain.
public struct NewAuditEvent: Sendable, Equatable {
    /// The CloudEvents `type`, e.g. `airlock.access.requested`.
    public var type: String
    /// The CloudEvents `subject`: what the event is about, e.g. a request or lease id.
    public var subject: String
    /// `data.severity`.
    public var severity: Severity
    /// `data.channels`: the policy's `notify` channels.
    public var channels: [String]
    /// The rest of `data`. Never put a password, token or key here.
    public var data: [String: JSONValue]

    /// Creates an event to append.
    public init(
        type: String, subject: String, severity: Severity = .info, channels: [String] = [],
        data: [String: JSONValue] = [:]
    ) {
        self.type = type
        self.subject = subject
        self.severity = severity
        self.channels = channels
        self.data = data
    }

    /// The CloudEvents 1.0 object for this event (without the chain's `sequence`, `prevhash` and `hash`).
    public func cloudEvent(id: UUID, source: String, time: Date) -> JSONValue {
        var data = self.data
        data["severity"] = .string(severity.rawValue)
        data["channels"] = .array(channels.sorted().map { .string($0) })
        return .object([
            "specversion": "1.0",
            "id": .string(id.uuidString.lowercased()),
            "source": .string(source),
            "type": .string(type),
            "time": .string(AuditTime.format(time)),
            "subject": .string(subject),
            "datacontenttype": "application/json",
            "data": .object(data),
        ])
    }
}

/// RFC 3339 UTC timestamps with millisecond precision, as every audit event carries them.
public enum AuditTime {
    /// `2026-11-29T13:26:10.123Z`.
    public static func format(_ date: Date) -> String {
        date.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true, timeZone: .gmt))
    }

    /// The time `text` (as ``format(_:)`` writes it, or without the fraction) names; nil for anything else.
    public static func parse(_ text: String) -> Date? {
        (try? Date(text, strategy: Date.ISO8601FormatStyle(includingFractionalSeconds: true, timeZone: .gmt)))
            ?? (try? Date(text, strategy: Date.ISO8601FormatStyle(timeZone: .gmt)))
    }
}

/// The hash chain over audit events.
///
/// `hash = SHA-256(prevhash || event)` in lowercase hex, where `prevhash` is the previous event's hash as 64
/// ASCII hex characters (64 zeros before the first event) and `event` is the event's RFC 8785 canonical JSON
/// without `sequence`, `prevhash` and `hash`, exactly as stored. In a keyed chain (``AuditChainKey``) it is
/// HMAC-SHA-256 under the key over the same bytes, and the event records the key's id.
public enum AuditChain {
    /// The `prevhash` of the first event.
    public static let genesisHash = String(repeating: "0", count: 64)

    /// The hash of an event whose canonical bytes are `event`, following `prevhash`: SHA-256, or HMAC-SHA-256 under
    /// `key` when the chain is keyed.
    public static func hash(prevhash: String, event: String, key: AuditChainKey? = nil) -> String {
        guard let key else { return Digest.sha256Hex(Array(prevhash.utf8), Array(event.utf8)) }
        return key.authenticationCode(Array(prevhash.utf8), Array(event.utf8))
    }
}
