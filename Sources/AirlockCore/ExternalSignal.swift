import Foundation

/// A risk signal an external security tool (an EDR, a SIEM) reported about a principal: `device_compromised`,
/// `credential_leaked`, `impossible_travel`. It is active from ``receivedAt`` until ``expiresAt``, unless it was
/// withdrawn first; while active the risk engine names it in `risk.signals`.
public struct ExternalSignal: Sendable, Hashable {
    /// The signal's id (`DELETE /v1/signals/{id}`).
    public var id: UUID
    /// The principal id it is about, exactly as Airlock shows principals.
    public var principal: String
    /// Its name in `risk.signals` (``ExternalSignal/isWellFormedName(_:)``, and not one Airlock computes).
    public var name: String
    /// How serious the sender judges it.
    public var severity: Severity
    /// What the sender said about it, if anything; free text from outside, shown only to those who may list signals.
    public var detail: String?
    /// The principal id of the caller that sent it.
    public var source: String
    /// When the broker received it (its clock).
    public var receivedAt: Date
    /// When it stops counting.
    public var expiresAt: Date
    /// When it was withdrawn, if it was.
    public var withdrawnAt: Date?
    /// Who withdrew it, if anyone.
    public var withdrawnBy: String?

    /// Creates a signal.
    public init(
        id: UUID, principal: String, name: String, severity: Severity, detail: String?, source: String,
        receivedAt: Date, expiresAt: Date, withdrawnAt: Date? = nil, withdrawnBy: String? = nil
    ) {
        self.id = id
        self.principal = principal
        self.name = name
        self.severity = severity
        self.detail = detail
        self.source = source
        self.receivedAt = receivedAt
        self.expiresAt = expiresAt
        self.withdrawnAt = withdrawnAt
        self.withdrawnBy = withdrawnBy
    }

    /// Where a signal stands at a given time.
    public enum Status: String, Sendable, Hashable, CaseIterable {
        /// Received, not withdrawn, its lifetime not over.
        case active
        /// Its lifetime is over.
        case expired
        /// Someone withdrew it before its lifetime ended.
        case withdrawn
    }

    /// Its status at `now`: withdrawn wins over expired (it was withdrawn while it still counted).
    public func status(at now: Date) -> Status {
        if withdrawnAt != nil { return .withdrawn }
        return now < expiresAt ? .active : .expired
    }

    /// The shortest lifetime a signal may be given: a minute.
    public static let minimumTTLSeconds: Int64 = 60
    /// The longest lifetime a signal may be given: 30 days (a longer-lived finding is reported again).
    public static let maximumTTLSeconds: Int64 = 30 * 24 * 3600
    /// The longest ``detail``, in Unicode code points.
    public static let maximumDetailLength = 1000
    /// The longest principal id, in bytes of UTF-8 (as the kill switch takes them).
    public static let maximumPrincipalBytes = 256

    /// Whether `name` matches `^[a-z][a-z0-9_]{0,62}$`.
    public static func isWellFormedName(_ name: String) -> Bool {
        let bytes = Array(name.utf8)
        guard let first = bytes.first, (1...63).contains(bytes.count), (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(first)
        else { return false }
        return bytes.allSatisfy { byte in
            (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
                || byte == UInt8(ascii: "_")
        }
    }
}
