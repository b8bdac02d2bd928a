import Foundation

/// How a webhook endpoint's deliveries are signed (Standard Webhooks).
public enum WebhookSigning: String, Sendable, Hashable, CaseIterable {
    /// `v1,` signatures: HMAC-SHA256 with the endpoint's `whsec_` secret, which the receiver holds too.
    case hmac
    /// `v1a,` signatures: Ed25519 with the endpoint's private key; the receiver holds only the public key.
    case ed25519
    /// No webhook signature: a Shared Signals stream's deliveries are Security Event Tokens, signed by the transmitter.
    case none
}

/// What an endpoint's deliveries are.
public enum WebhookFormat: String, Sendable, Hashable, CaseIterable {
    /// The audit event as a CloudEvent, with Standard Webhooks signatures.
    case cloudEvents = "cloudevents"
    /// A Shared Signals stream pushed to its receiver: a Security Event Token per delivery (RFC 8935).
    case sharedSignalsPush = "ssf_push"
    /// A Shared Signals stream its receiver polls (RFC 8936): no dispatcher delivers it.
    case sharedSignalsPoll = "ssf_poll"
}

/// A webhook endpoint as stored: where audit events go, which ones, and how they are signed. Never the secret.
public struct WebhookEndpoint: Sendable, Hashable {
    /// Whether the endpoint receives events.
    public enum Status: String, Sendable, Hashable {
        case active
        /// A Shared Signals stream its receiver paused: its events are kept, and go out once it is enabled again.
        case paused
        /// Disabled by its receiver (`410 Gone`) or an admin; nothing is queued for it.
        case disabled
    }

    public var id: UUID
    /// The receiver's URL (`https`, or `http` on loopback in development mode).
    public var url: String
    /// For people: what the endpoint is for.
    public var description: String
    /// Event type prefixes it receives (`airlock.credential.`, `airlock.access.denied`); empty: every type.
    public var eventTypes: [String]
    /// The policy's `notify` channels it receives; empty: any channel or none.
    public var channels: [String]
    /// The least severity it receives.
    public var minimumSeverity: Severity
    public var signing: WebhookSigning
    /// What its deliveries are (CloudEvents, or Security Event Tokens of a Shared Signals stream).
    public var format: WebhookFormat
    /// The Ed25519 public key receivers verify `v1a,` signatures with (32 bytes); nil for `hmac`.
    public var publicKey: [UInt8]?
    public var status: Status
    /// Why it was disabled, when it is.
    public var disabledReason: String?
    /// Until when the key before the last rotation still signs too (both signatures are sent), if a rotation is
    /// in its window.
    public var rotationEndsAt: Date?
    public var createdAt: Date
    /// The principal that created it.
    public var createdBy: String
    /// Since when deliveries to it fail, if they do.
    public var failingSince: Date?
    /// Failed attempts in a row.
    public var failures: Int

    public init(
        id: UUID, url: String, description: String = "", eventTypes: [String] = [], channels: [String] = [],
        minimumSeverity: Severity = .info, signing: WebhookSigning = .hmac, format: WebhookFormat = .cloudEvents,
        publicKey: [UInt8]? = nil,
        status: Status = .active, disabledReason: String? = nil, rotationEndsAt: Date? = nil, createdAt: Date,
        createdBy: String, failingSince: Date? = nil, failures: Int = 0
    ) {
        self.id = id
        self.url = url
        self.description = description
        self.eventTypes = eventTypes
        self.channels = channels
        self.minimumSeverity = minimumSeverity
        self.signing = signing
        self.format = format
        self.publicKey = publicKey
        self.status = status
        self.disabledReason = disabledReason
        self.rotationEndsAt = rotationEndsAt
        self.createdAt = createdAt
        self.createdBy = createdBy
        self.failingSince = failingSince
        self.failures = failures
    }
}
