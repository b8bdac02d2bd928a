/// One signed delivery, ready to post: Standard Webhooks headers and the CloudEvent body.
public struct OutgoingWebhook: Sendable, Hashable {
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

    public init(url: String, id: String, timestamp: Int64, signature: String, body: [UInt8]) {
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
