import Foundation

/// A Security Event Token (RFC 8417) a Shared Signals transmitter pushed to Airlock, once its signature, issuer,
/// audience, age and single event have been checked: what the application layer records and acts on.
public struct ReceivedSecurityEvent: Sendable, Hashable {
    /// The transmitter's issuer (`iss`).
    public var transmitter: String
    /// The SET's `jti`: unique per transmitter, the key that refuses a replay.
    public var jti: String
    /// Its `iat`.
    public var issuedAt: Date
    /// Its one event's type, as sent (a URI).
    public var eventType: String
    /// The subject it is about (`sub_id`), when it names one in a format Airlock reads.
    public var subject: SecurityEventSubject?
    /// The principal id the subject maps to, through the issuer mapping of logins; nil when it maps to none.
    public var principal: String?
    /// Why the subject maps to no principal, in words for people (nil when it maps, or names none).
    public var unmappedReason: String?
    /// The SET's `txn`, if any: the transmitter's id of the change, shared by the SETs it caused.
    public var transaction: String?
    /// What the transmitter says of the change (`reason_admin`, in English when several languages are given).
    public var reason: String?
    /// The verification event's `state`, echoed from the verification request.
    public var verificationState: String?

    /// Creates a received event.
    public init(
        transmitter: String, jti: String, issuedAt: Date, eventType: String, subject: SecurityEventSubject? = nil,
        principal: String? = nil, unmappedReason: String? = nil, transaction: String? = nil, reason: String? = nil,
        verificationState: String? = nil
    ) {
        self.transmitter = transmitter
        self.jti = jti
        self.issuedAt = issuedAt
        self.eventType = eventType
        self.subject = subject
        self.principal = principal
        self.unmappedReason = unmappedReason
        self.transaction = transaction
        self.reason = reason
        self.verificationState = verificationState
    }

    /// The event type when Airlock knows it.
    public var knownEvent: SharedSignalEvent? { SharedSignalEvent(rawValue: eventType) }
}

/// A subject identifier of RFC 9493 (`sub_id`), in one of the formats Airlock maps to principals.
public enum SecurityEventSubject: Sendable, Hashable, CustomStringConvertible {
    /// `iss_sub`: a subject of an issuer.
    case issuerSubject(issuer: String, subject: String)
    /// `email`: an email address.
    case email(String)
    /// `opaque`: an identifier only the transmitter and receiver understand.
    case opaque(String)

    /// The format's name in RFC 9493.
    public var format: String {
        switch self {
        case .issuerSubject: "iss_sub"
        case .email: "email"
        case .opaque: "opaque"
        }
    }

    public var description: String {
        switch self {
        case .issuerSubject(let issuer, let subject): "iss_sub \(subject) of \(issuer)"
        case .email(let address): "email \(address)"
        case .opaque(let id): "opaque \(id)"
        }
    }
}
