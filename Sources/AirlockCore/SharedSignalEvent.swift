/// The Shared Signals (OpenID SSF 1.0) event types Airlock understands as a receiver: the CAEP and RISC events that
/// say something changed about a person, and the SSF stream events. Each event type Airlock acts on becomes an
/// external risk signal (``ExternalSignal``) on the principal the event names, with a severity and a lifetime that
/// a transmitter's configuration may change.
public enum SharedSignalEvent: String, Sendable, Hashable, CaseIterable {
    /// CAEP: a session of the subject was revoked at the identity provider.
    case sessionRevoked = "https://schemas.openid.net/secevent/caep/event-type/session-revoked"
    /// CAEP: a credential of the subject was created, changed, revoked or deleted.
    case credentialChange = "https://schemas.openid.net/secevent/caep/event-type/credential-change"
    /// CAEP: the subject's risk level changed (Airlock sends it; as a receiver it records it and acts on nothing).
    case riskLevelChange = "https://schemas.openid.net/secevent/caep/event-type/risk-level-change"
    /// RISC: the subject's account was disabled.
    case accountDisabled = "https://schemas.openid.net/secevent/risc/event-type/account-disabled"
    /// RISC: the subject's account was deleted.
    case accountPurged = "https://schemas.openid.net/secevent/risc/event-type/account-purged"
    /// RISC: a credential of the subject was compromised.
    case credentialCompromise = "https://schemas.openid.net/secevent/risc/event-type/credential-compromise"
    /// RISC: the subject must change a credential before using the account again.
    case accountCredentialChangeRequired =
        "https://schemas.openid.net/secevent/risc/event-type/account-credential-change-required"
    /// SSF: the transmitter checks that the stream delivers (answered, never a signal).
    case verification = "https://schemas.openid.net/secevent/ssf/event-type/verification"
    /// SSF: the transmitter changed the stream's status.
    case streamUpdated = "https://schemas.openid.net/secevent/ssf/event-type/stream-updated"

    /// The event type's short name, as configuration and the CLI write it (`credential-compromise`).
    public var shortName: String { String(rawValue.split(separator: "/").last ?? "") }

    /// The event type whose short name is `name`.
    public init?(shortName name: String) {
        guard let event = Self.allCases.first(where: { $0.shortName == name }) else { return nil }
        self = event
    }

    /// How an event of this type becomes a risk signal, unless a transmitter's configuration says otherwise; nil for
    /// the stream's own events, which are answered and recorded but say nothing about a person.
    ///
    /// The defaults follow what each event means for access that is still open: a compromised credential, a
    /// disabled or deleted account are `critical` (the example guardrails refuse every grant while one is active);
    /// a revoked session is `high`, as is a required credential change; a changed credential is `medium` (it is
    /// often the owner's own doing, and a signal says so without ending access on its own).
    public var defaultSignal: SignalMapping? {
        switch self {
        case .sessionRevoked: SignalMapping(name: "session_revoked", severity: .high, ttlSeconds: 3_600)
        case .credentialChange: SignalMapping(name: "credential_changed", severity: .medium, ttlSeconds: 3_600)
        case .accountDisabled: SignalMapping(name: "account_disabled", severity: .critical, ttlSeconds: 7 * 86_400)
        case .accountPurged: SignalMapping(name: "account_purged", severity: .critical, ttlSeconds: 30 * 86_400)
        case .credentialCompromise:
            SignalMapping(name: "credential_compromised", severity: .critical, ttlSeconds: 7 * 86_400)
        case .accountCredentialChangeRequired:
            SignalMapping(name: "credential_change_required", severity: .high, ttlSeconds: 86_400)
        case .verification, .streamUpdated, .riskLevelChange: nil
        }
    }

    /// The signal an event becomes: its name in `risk.signals`, its severity and how long it counts.
    public struct SignalMapping: Sendable, Hashable {
        /// The signal's name (`^[a-z][a-z0-9_]{0,62}$`).
        public var name: String
        /// Its severity.
        public var severity: Severity
        /// Its lifetime, in seconds (``ExternalSignal/minimumTTLSeconds`` to ``ExternalSignal/maximumTTLSeconds``).
        public var ttlSeconds: Int64

        /// Creates a mapping.
        public init(name: String, severity: Severity, ttlSeconds: Int64) {
            self.name = name
            self.severity = severity
            self.ttlSeconds = ttlSeconds
        }
    }
}
