import AirlockCore
import Foundation

/// One Airlock audit event as stored: its CloudEvents 1.0 object read into the attributes the OCSF mapping uses.
///
/// `specversion`, `id`, `source`, `type`, `time` (RFC 3339) and `data` with `severity` are required; `subject` and
/// the chain's `sequence`, `prevhash` and `hash` are read when present (an event is chained after it is written).
struct StoredAuditEvent: Sendable {
    /// The CloudEvent exactly as given, member for member.
    let cloudEvent: [String: JSONValue]
    /// `id`.
    let id: String
    /// `type`, e.g. `airlock.credential.issued`.
    let type: String
    /// `source`, e.g. `urn:airlock`.
    let source: String
    /// `subject`: what the event is about (a request, lease, token or policy set id), when present.
    let subject: String?
    /// `time` as written.
    let timeText: String
    /// `time`.
    let time: Date
    /// `data.severity`.
    let severity: Severity
    /// `data`.
    let data: [String: JSONValue]
    /// The chain's `sequence`, once the event is chained.
    let sequence: Int64?

    /// Reads `event`; throws ``AuditError`` (`invalid_event`) naming the first attribute that is missing or malformed.
    init(_ event: JSONValue) throws {
        guard case .object(let members) = event else { throw AuditError.invalidEvent("not a json object") }
        func required(_ key: String) throws -> String {
            guard let value = members[key]?.stringValue, !value.isEmpty else {
                throw AuditError.invalidEvent("`\(key)` is missing or not a non-empty string")
            }
            return value
        }
        guard try required("specversion") == "1.0" else {
            throw AuditError.invalidEvent("`specversion` is not `1.0`")
        }
        cloudEvent = members
        id = try required("id")
        type = try required("type")
        source = try required("source")
        subject = members["subject"]?.stringValue.flatMap { $0.isEmpty ? nil : $0 }
        timeText = try required("time")
        guard let time = Self.parseTime(timeText) else {
            throw AuditError.invalidEvent("`time` is not an rfc 3339 timestamp")
        }
        self.time = time
        guard case .object(let data) = members["data"] else {
            throw AuditError.invalidEvent("`data` is missing or not an object")
        }
        self.data = data
        guard let severityText = data["severity"]?.stringValue, let severity = Severity(rawValue: severityText) else {
            throw AuditError.invalidEvent("`data.severity` is not info, low, medium, high or critical")
        }
        self.severity = severity
        switch members["sequence"] {
        case nil, .null?:
            sequence = nil
        case .some(let value):
            guard let number = value.intValue else { throw AuditError.invalidEvent("`sequence` is not an integer") }
            sequence = number
        }
    }

    /// `2026-11-29T13:26:10.123Z` (as ``AuditTime`` writes it), or the same without fractional seconds.
    static func parseTime(_ text: String) -> Date? {
        let fractional = Date.ISO8601FormatStyle(includingFractionalSeconds: true, timeZone: .gmt)
        if let date = try? Date(text, strategy: fractional) { return date }
        return try? Date(text, strategy: Date.ISO8601FormatStyle(timeZone: .gmt))
    }

    /// The event's area: the second dot-separated part of an `airlock.<area>.<verb>` type (`credential` in
    /// `airlock.credential.issued`), empty for any other type.
    var family: String {
        let parts = type.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count >= 3, parts[0] == "airlock" else { return "" }
        return String(parts[1])
    }

    /// The last dot-separated part of the type (`issued` in `airlock.credential.issued`).
    var verb: String {
        String(type.split(separator: ".", omittingEmptySubsequences: false).last ?? "")
    }

    /// The non-empty string `data[key]`, if there is one.
    func text(_ key: String) -> String? {
        guard let value = data[key]?.stringValue, !value.isEmpty else { return nil }
        return value
    }

    /// `data.principal`: who the event is about or who asked.
    var principal: String? { text("principal") }

    /// Whether `data.break_glass` is `true` (a boolean; nothing else counts).
    var isBreakGlass: Bool { data["break_glass"]?.boolValue == true }

    /// `time` in milliseconds since the Unix epoch (OCSF `timestamp_t`).
    var epochMilliseconds: Int64 {
        Int64((time.timeIntervalSince1970 * 1000).rounded())
    }
}
