import AirlockCore
import AirlockStore
import Foundation
import Logging

/// What an admin asks for when adding a webhook endpoint.
public struct NewWebhook: Sendable, Hashable {
    /// `https://…` (or `http://` to a loopback host in development mode).
    public var url: String
    public var description: String
    /// Event type prefixes, e.g. `airlock.credential.`; empty: every type.
    public var eventTypes: [String]
    /// The policy's `notify` channels; empty: any.
    public var channels: [String]
    /// `info` (default), `low`, `medium`, `high` or `critical`.
    public var minimumSeverity: String?
    /// `hmac` (default: a `whsec_` secret, shown once) or `ed25519` (a key pair; the public key is published).
    public var signing: String?

    public init(
        url: String, description: String = "", eventTypes: [String] = [], channels: [String] = [],
        minimumSeverity: String? = nil, signing: String? = nil
    ) {
        self.url = url
        self.description = description
        self.eventTypes = eventTypes
        self.channels = channels
        self.minimumSeverity = minimumSeverity
        self.signing = signing
    }
}

/// Webhook endpoints, for admins: added (the `whsec_` secret shown once), listed (never a secret), removed. The
/// HTTP routes and `airlock webhooks` call the same checks.
///
/// An endpoint is a place the broker will connect to, so its URL is checked like hostile input: `https` only (or
/// `http` to loopback in development mode), no credentials in it, and an address written in it must not be in a
/// refused range (``WebhookAddressPolicy``); names are resolved and checked again at every delivery.
public struct Webhooks: Sendable {
    public let store: WebhookStore
    /// Which addresses endpoints may have; where it allows loopback (development mode), `http://` to loopback
    /// receivers is accepted too.
    public let addressPolicy: WebhookAddressPolicy

    public static let maximumDescriptionLength = 256
    public static let maximumFilters = 32
    public static let maximumFilterLength = 128

    public init(store: WebhookStore, addressPolicy: WebhookAddressPolicy) {
        self.store = store
        self.addressPolicy = addressPolicy
    }

    /// The endpoint as added, and its `whsec_` secret for `hmac` signing (shown this once; nil for `ed25519`,
    /// whose receivers verify with ``WebhookEndpoint/publicKey``).
    public func add(_ ask: NewWebhook, by actor: String, logger: Logger) async throws -> (endpoint: WebhookEndpoint, secret: String?) {
        var endpoint = try validate(ask, by: actor)
        switch endpoint.signing {
        case .hmac:
            let secret = WebhookSecret.generate()
            endpoint = try await store.add(endpoint, signingKey: secret.bytes, logger: logger)
            return (endpoint, secret.text)
        case .ed25519:
            let pair = WebhookSigningKeyPair.generate()
            endpoint.publicKey = pair.publicKeyBytes
            endpoint = try await store.add(endpoint, signingKey: pair.privateKeyBytes, logger: logger)
            return (endpoint, nil)
        case .none:
            throw BrokerError.invalidInput("`signing` must be `hmac` or `ed25519`")
        }
    }

    /// How long the replaced key keeps signing after a rotation unless the admin says otherwise.
    public static let defaultRotationWindow: TimeInterval = 24 * 3600
    /// The longest rotation window: two keys sign for at most a week.
    public static let maximumRotationWindow: TimeInterval = 7 * 24 * 3600

    /// Gives the endpoint `id` a new signing key of its kind; the old one keeps signing for `window` (both
    /// signatures are sent, so receivers switch without missing a delivery; 0: at once). Returns the endpoint and,
    /// for `hmac`, the new `whsec_` secret (shown this once); an `ed25519` endpoint's new public key is in the
    /// endpoint.
    public func rotate(
        _ id: UUID, window: TimeInterval = defaultRotationWindow, by actor: String, logger: Logger
    ) async throws -> (endpoint: WebhookEndpoint, secret: String?) {
        guard window >= 0, window <= Self.maximumRotationWindow else {
            throw BrokerError.invalidInput("the rotation window must be between 0 seconds and 7 days")
        }
        guard let endpoint = try await store.get(id, logger: logger) else { throw BrokerError.notFound("no such webhook") }
        let rotated: WebhookEndpoint?
        let secret: String?
        switch endpoint.signing {
        case .hmac:
            let key = WebhookSecret.generate()
            rotated = try await store.rotate(
                id, signingKey: key.bytes, publicKey: nil, window: window, by: actor, logger: logger)
            secret = key.text
        case .ed25519:
            let pair = WebhookSigningKeyPair.generate()
            rotated = try await store.rotate(
                id, signingKey: pair.privateKeyBytes, publicKey: pair.publicKeyBytes, window: window, by: actor,
                logger: logger)
            secret = nil
        case .none:
            throw BrokerError.notFound("no such webhook")  // a Shared Signals stream; store.get lists none
        }
        guard let rotated else { throw BrokerError.notFound("no such webhook") }
        return (rotated, secret)
    }

    /// Every endpoint, oldest first; never a secret.
    public func list(logger: Logger) async throws -> [WebhookEndpoint] {
        try await store.list(logger: logger)
    }

    /// Removes the endpoint `id` (its undelivered events are dropped; audited).
    public func remove(_ id: UUID, by actor: String, logger: Logger) async throws {
        guard try await store.remove(id, by: actor, logger: logger) else {
            throw BrokerError.notFound("no such webhook")
        }
    }

    /// Queues `replay` for the endpoint `id` again (re-enabling it if it was disabled); how many events.
    public func replay(_ id: UUID, _ replay: WebhookStore.Replay, by actor: String, logger: Logger) async throws -> Int {
        switch replay {
        case .sequences(let from, let through):
            if let from, from < 1 { throw BrokerError.invalidInput("`from_sequence` must be at least 1") }
            if let through, through < 1 { throw BrokerError.invalidInput("`to_sequence` must be at least 1") }
            if let from, let through, through < from {
                throw BrokerError.invalidInput("`to_sequence` must not be before `from_sequence`")
            }
        case .time(let from, let until):
            if let from, let until, until <= from { throw BrokerError.invalidInput("`until` must be after `since`") }
        case .deadLetters:
            break
        }
        guard let queued = try await store.replay(id, replay, by: actor, logger: logger) else {
            throw BrokerError.notFound("no such webhook")
        }
        return queued
    }

    /// Queues a test event for the endpoint `id` alone; its id (the `webhook-id` the receiver will see).
    public func test(_ id: UUID, by actor: String, logger: Logger) async throws -> UUID {
        guard let event = try await store.queueTest(id, by: actor, logger: logger) else {
            throw BrokerError.notFound("no such active webhook (a disabled one is enabled again by a replay)")
        }
        return event
    }

    /// `url` as a destination Airlock may post to under `policy` (an absolute https url, http on loopback only in
    /// development mode, no refused address), or why not; `what` names the posts in messages ("webhooks").
    static func destination(
        _ url: String, policy: WebhookAddressPolicy, of what: String
    ) throws(BrokerError) -> WebhookDestination {
        let destination: WebhookDestination
        do {
            destination = try WebhookDestination(parsing: url, allowsLoopbackHTTP: policy.allowsLoopback)
        } catch {
            throw .invalidInput(error.message)
        }
        if let address = destination.literalAddress, let refusal = policy.refusal(for: address) {
            throw .invalidInput("refused \(what) address: \(refusal)")
        }
        if destination.host == "localhost" && !policy.allowsLoopback {
            throw .invalidInput(
                "refused \(what) address: `localhost` is loopback; \(what) go to loopback only in development mode")
        }
        return destination
    }

    /// The checks of a new endpoint; the endpoint to store (no key yet).
    public func validate(_ ask: NewWebhook, by actor: String) throws(BrokerError) -> WebhookEndpoint {
        let destination = try Self.destination(ask.url, policy: addressPolicy, of: "webhooks")
        guard ask.description.unicodeScalars.count <= Self.maximumDescriptionLength,
              !ask.description.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
            throw .invalidInput(
                "`description` must be at most \(Self.maximumDescriptionLength) characters, no control characters")
        }
        let eventTypes = try Self.filters(ask.eventTypes, named: "event_types") { prefix in
            !prefix.isEmpty && prefix.utf8.allSatisfy { byte in
                (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
                    || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "-")
            }
        }
        let channels = try Self.filters(ask.channels, named: "channels") { channel in
            !channel.isEmpty && !channel.unicodeScalars.allSatisfy(\.properties.isWhitespace)
                && !channel.unicodeScalars.contains(where: { $0.properties.generalCategory == .control })
        }
        var severity = Severity.info
        if let text = ask.minimumSeverity {
            guard let parsed = Severity(rawValue: text) else {
                throw .invalidInput(
                    "`min_severity` must be one of \(Severity.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            severity = parsed
        }
        var signing = WebhookSigning.hmac
        if let text = ask.signing {
            guard let parsed = WebhookSigning(rawValue: text), parsed != .none else {
                throw .invalidInput("`signing` must be `hmac` or `ed25519`")
            }
            signing = parsed
        }
        return WebhookEndpoint(
            id: UUID(), url: destination.url, description: ask.description, eventTypes: eventTypes, channels: channels,
            minimumSeverity: severity, signing: signing, createdAt: Date(), createdBy: actor)
    }

    /// `values` checked (each by `isValid`, at most ``maximumFilters`` of at most ``maximumFilterLength``
    /// characters), without duplicates, in their order.
    private static func filters(
        _ values: [String], named name: String, isValid: (String) -> Bool
    ) throws(BrokerError) -> [String] {
        guard values.count <= maximumFilters else { throw .invalidInput("`\(name)`: at most \(maximumFilters)") }
        var result: [String] = []
        for value in values {
            guard value.unicodeScalars.count <= maximumFilterLength, isValid(value) else {
                throw .invalidInput(
                    name == "event_types"
                        ? "`event_types`: `\(BrokerError.shown(value))` is not an event type prefix (a-z, 0-9, `.`, `_`, `-`)"
                        : "`channels`: `\(BrokerError.shown(value))` is not a channel name (1 to \(maximumFilterLength) characters, not blank, no control characters)")
            }
            if !result.contains(value) { result.append(value) }
        }
        return result
    }
}
