/// One signed delivery, ready to post: Standard Webhooks headers and the CloudEvent body, or a Shared Signals
/// stream's Security Event Token.
public struct OutgoingWebhook: Sendable, Hashable {
    /// What is posted.
    public enum Kind: Sendable, Hashable {
        /// The CloudEvent, with the `webhook-*` headers.
        case cloudEvent
        /// A signed SET (`application/secevent+jwt`, RFC 8935) with the stream's `Authorization` value, if any.
        case securityEvent(authorization: String?)
    }

    public let kind: Kind
    /// The endpoint's URL.
    public let url: String
    /// `webhook-id`: the event's id, the same on every retry (and the CloudEvents `id` in the body).
    public let id: String
    /// `webhook-timestamp`: Unix seconds of this attempt.
    public let timestamp: Int64
    /// `webhook-signature`: every signature, space-separated.
    public let signature: String
    /// The CloudEvent in structured mode (sent as `application/cloudevents+json`).
    public let body: [UInt8]

    public init(
        url: String, id: String, timestamp: Int64, signature: String, body: [UInt8], kind: Kind = .cloudEvent
    ) {
        self.kind = kind
        self.url = url
        self.id = id
        self.timestamp = timestamp
        self.signature = signature
        self.body = body
    }
}

/// Posts webhooks: implemented over HTTP by the audit delivery adapter (`AirlockAudit`), which also refuses
/// addresses the ``WebhookAddressPolicy`` refuses. Never throws: every failure is a ``WebhookResponse``.
public protocol WebhookTransport: Sendable {
    func post(_ webhook: OutgoingWebhook) async -> WebhookResponse
}
