import AirlockCore
import AirlockStore
import Foundation
import Logging

/// What a receiver asks for when it creates, changes or replaces a stream (SSF 1.0 §8.1.1); nil: not given.
public struct StreamAsk: Sendable, Hashable {
    /// `delivery.method`: `urn:ietf:rfc:8935` (push) or `urn:ietf:rfc:8936` (poll).
    public var deliveryMethod: String?
    /// `delivery.endpoint_url`: where pushes go (push only; for poll the transmitter assigns it).
    public var endpointURL: String?
    /// `delivery.authorization_header`: sent as `Authorization` with each push. Sealed, never shown again.
    public var authorizationHeader: String?
    public var eventsRequested: [String]?
    /// `aud`: what the SETs name as their audience (default: the push URL, or the owner's principal id for poll).
    public var audience: [String]?
    public var description: String?

    public init(
        deliveryMethod: String? = nil, endpointURL: String? = nil, authorizationHeader: String? = nil,
        eventsRequested: [String]? = nil, audience: [String]? = nil, description: String? = nil
    ) {
        self.deliveryMethod = deliveryMethod
        self.endpointURL = endpointURL
        self.authorizationHeader = authorizationHeader
        self.eventsRequested = eventsRequested
        self.audience = audience
        self.description = description
    }
}

/// Shared Signals streams for their receivers (issue 16, the transmitter): created, read, changed, replaced and
/// deleted and polled by the `alk_` token with `ssf.manage` that created them (admins may act on every one), read by
/// it and by tokens with `ssf.read` (every stream, read-only); status and verification; polling (RFC 8936). Who may
/// call at all is the routes' to decide; whose stream it is, is decided here.
public struct SharedSignalsStreams: Sendable {
    public let store: SharedSignalsStreamStore
    let deliveries: WebhookDeliveryStore
    public let transmitter: SharedSignalsTransmitter
    let addressPolicy: WebhookAddressPolicy
    /// The time polled SETs are issued at.
    let clock: any WallClock

    /// The most streams one principal may have.
    public static let maximumStreamsPerOwner = 20
    /// The most SETs one poll returns.
    public static let maximumPollEvents = 1_000
    /// The longest description, and the longest reason or verification state, in characters.
    public static let maximumTextLength = 500

    public init(
        store: SharedSignalsStreamStore, deliveries: WebhookDeliveryStore, transmitter: SharedSignalsTransmitter,
        addressPolicy: WebhookAddressPolicy, clock: any WallClock = SystemWallClock()
    ) {
        self.clock = clock
        self.store = store
        self.deliveries = deliveries
        self.transmitter = transmitter
        self.addressPolicy = addressPolicy
    }

    /// Whether `caller` may read every stream (an admin, or a token with `ssf.read`) rather than only its own.
    static func readsAll(_ caller: Principal) -> Bool {
        caller.has(scope: ApiTokenScope.admin.rawValue) || caller.has(scope: ApiTokenScope.ssfRead.rawValue)
    }

    /// Whether `caller` may change or poll every stream (an admin) rather than only its own.
    static func changesAll(_ caller: Principal) -> Bool { caller.has(scope: ApiTokenScope.admin.rawValue) }

    /// A new stream of `caller`'s, enabled, with the event types asked for that Airlock supports.
    public func create(_ ask: StreamAsk, by caller: Principal, logger: Logger) async throws -> SharedSignalsStream {
        let owned = try await store.list(owner: caller.id, logger: logger)
        guard owned.count < Self.maximumStreamsPerOwner else {
            throw BrokerError.invalidInput("a receiver may have at most \(Self.maximumStreamsPerOwner) streams")
        }
        let (delivery, authorization) = try validateDelivery(ask)
        let requested = try Self.validateEvents(ask.eventsRequested ?? [])
        let now = clock.now()
        let stream = SharedSignalsStream(
            id: UUID(), owner: caller.id, audience: try validateAudience(ask.audience, delivery: delivery, owner: caller.id),
            delivery: delivery, eventsRequested: requested, eventsDelivered: SharedSignalsStream.delivered(from: requested),
            description: try Self.validateText(ask.description, "description"), createdAt: now, updatedAt: now)
        return try await store.create(stream, authorization: authorization, logger: logger)
    }

    /// The stream `id` if `caller` may read it (or, `changing`, change or poll it); `not_found` otherwise (another
    /// receiver's stream is not shown to exist).
    public func get(
        _ id: UUID, by caller: Principal, changing: Bool = false, logger: Logger
    ) async throws -> SharedSignalsStream {
        let all = changing ? Self.changesAll(caller) : Self.readsAll(caller)
        guard let stream = try await store.get(id, logger: logger), all || stream.owner == caller.id
        else { throw BrokerError.notFound("no such stream") }
        return stream
    }

    /// The streams `caller` may read, oldest first.
    public func list(by caller: Principal, logger: Logger) async throws -> [SharedSignalsStream] {
        try await store.list(owner: Self.readsAll(caller) ? nil : caller.id, logger: logger)
    }

    /// Changes the fields `ask` gives (PATCH), or with `replacing` sets every field to what `ask` says, defaults for
    /// those it leaves out (PUT).
    public func update(
        _ id: UUID, _ ask: StreamAsk, replacing: Bool, by caller: Principal, logger: Logger
    ) async throws -> SharedSignalsStream {
        var stream = try await get(id, by: caller, changing: true, logger: logger)
        var authorization: String??
        if replacing || ask.deliveryMethod != nil || ask.endpointURL != nil || ask.authorizationHeader != nil {
            var merged = ask
            if !replacing {
                merged.deliveryMethod = ask.deliveryMethod ?? stream.delivery.method
                if merged.endpointURL == nil, case .push(let url) = stream.delivery { merged.endpointURL = url }
            }
            let (delivery, header) = try validateDelivery(merged)
            if replacing || ask.authorizationHeader != nil || delivery != stream.delivery {
                authorization = .some(header)
            }
            stream.delivery = delivery
        }
        if replacing || ask.eventsRequested != nil {
            stream.eventsRequested = try Self.validateEvents(ask.eventsRequested ?? [])
            stream.eventsDelivered = SharedSignalsStream.delivered(from: stream.eventsRequested)
        }
        if replacing || ask.audience != nil {
            stream.audience = try validateAudience(ask.audience, delivery: stream.delivery, owner: stream.owner)
        }
        if replacing || ask.description != nil { stream.description = try Self.validateText(ask.description, "description") }
        guard let updated = try await store.update(stream, authorization: authorization, by: caller.id, logger: logger)
        else { throw BrokerError.notFound("no such stream") }
        return updated
    }

    /// Deletes the stream `id` of `caller`'s.
    public func delete(_ id: UUID, by caller: Principal, logger: Logger) async throws {
        _ = try await get(id, by: caller, changing: true, logger: logger)
        guard try await store.delete(id, by: caller.id, logger: logger) else { throw BrokerError.notFound("no such stream") }
    }

    /// Sets the stream's status; a `stream-updated` SET tells its receiver (unless it is now disabled).
    public func setStatus(
        _ id: UUID, _ status: SharedSignalsStream.Status, reason: String?, by caller: Principal, logger: Logger
    ) async throws -> SharedSignalsStream {
        _ = try await get(id, by: caller, changing: true, logger: logger)
        let reason = try Self.validateText(reason, "reason")
        guard let stream = try await store.setStatus(
            id, status, reason: reason.isEmpty ? nil : reason, by: caller.id, logger: logger)
        else { throw BrokerError.notFound("no such stream") }
        return stream
    }

    /// Queues a `verification` SET echoing `state` to the stream.
    public func verify(_ id: UUID, state: String?, by caller: Principal, logger: Logger) async throws {
        let stream = try await get(id, by: caller, changing: true, logger: logger)
        guard stream.status == .enabled else {
            throw BrokerError.conflict("the stream is \(stream.status.rawValue); only an enabled stream is verified")
        }
        let state = try Self.validateText(state, "state")
        guard try await store.requestVerification(id, state: state.isEmpty ? nil : state, by: caller.id, logger: logger)
        else { throw BrokerError.notFound("no such stream") }
    }

    /// RFC 8936: acknowledges `acknowledged` (and `failed`, which the receiver could not process: logged, and not
    /// sent again), then returns up to `maximum` waiting SETs of poll stream `id` by `jti`, and whether more wait.
    public func poll(
        _ id: UUID, maximum: Int?, acknowledged: [String], failed: [String: String], by caller: Principal,
        logger: Logger
    ) async throws -> (sets: [String: String], moreAvailable: Bool) {
        let stream = try await get(id, by: caller, changing: true, logger: logger)
        guard stream.delivery == .poll else {
            throw BrokerError.conflict("the stream delivers by push; only a poll stream is polled")
        }
        let done = (acknowledged + failed.keys.sorted()).compactMap(SharedSignalsTransmitter.delivery(ofJTI:))
        if !failed.isEmpty {
            logger.warning("a Shared Signals receiver could not process SETs", metadata: [
                "stream_id": "\(id)", "errors": "\(failed.keys.sorted().map { "\($0): \(failed[$0] ?? "")" })",
            ])
        }
        _ = try await store.acknowledge(id, done.map { ($0.eventID, $0.part) }, logger: logger)
        let limit = min(max(maximum ?? 100, 0), Self.maximumPollEvents)
        guard limit > 0, stream.status == .enabled else { return ([:], false) }
        let waiting = try await deliveries.pending(for: id, limit: limit + 1, logger: logger)
        var sets: [String: String] = [:]
        for delivery in waiting.prefix(limit) {
            let event = try JSONValue.parse(Data(delivery.body))
            guard let token = try transmitter.token(
                of: event, part: delivery.part, audience: stream.audience, issuedAt: clock.now())
            else {
                continue
            }
            sets[SharedSignalsTransmitter.jti(eventID: delivery.eventID.uuidString, part: delivery.part)] = token
        }
        return (sets, waiting.count > limit)
    }

    /// The delivery asked for, and the authorization header to seal (push only).
    func validateDelivery(_ ask: StreamAsk) throws(BrokerError) -> (SharedSignalsStream.Delivery, String?) {
        switch ask.deliveryMethod ?? SharedSignalsStream.Delivery.pushMethod {
        case SharedSignalsStream.Delivery.pollMethod:
            guard ask.endpointURL == nil, ask.authorizationHeader == nil else {
                throw .invalidInput("a poll stream's endpoint is the transmitter's: give no `endpoint_url` or `authorization_header`")
            }
            return (.poll, nil)
        case SharedSignalsStream.Delivery.pushMethod:
            guard let url = ask.endpointURL else { throw .invalidInput("a push stream needs `delivery.endpoint_url`") }
            let destination = try Webhooks.destination(url, policy: addressPolicy, of: "pushes")
            if let header = ask.authorizationHeader {
                guard !header.isEmpty, header.utf8.count <= 4096,
                      header.unicodeScalars.allSatisfy({ $0.value >= 0x20 && $0.value < 0x7F })
                else {
                    throw .invalidInput("`authorization_header` must be 1 to 4096 printable ASCII characters")
                }
            }
            return (.push(url: destination.url), ask.authorizationHeader)
        default:
            throw .invalidInput(
                "`delivery.method` must be `\(SharedSignalsStream.Delivery.pushMethod)` (push) or "
                    + "`\(SharedSignalsStream.Delivery.pollMethod)` (poll)")
        }
    }

    /// The event types asked for: URIs, at most 50 of them.
    static func validateEvents(_ events: [String]) throws(BrokerError) -> [String] {
        guard events.count <= 50, events.allSatisfy({
            !$0.isEmpty && $0.unicodeScalars.count <= 512 && !$0.unicodeScalars.contains { $0.value < 0x20 }
        }) else {
            throw .invalidInput("`events_requested` must be at most 50 event type URIs")
        }
        return events
    }

    /// The stream's audience: as asked (1 to 10 values of at most 512 bytes), else the push URL or the owner.
    func validateAudience(
        _ audience: [String]?, delivery: SharedSignalsStream.Delivery, owner: String
    ) throws(BrokerError) -> [String] {
        guard let audience else {
            if case .push(let url) = delivery { return [url] }
            return [owner]
        }
        guard (1...10).contains(audience.count),
              audience.allSatisfy({
                  !$0.isEmpty && $0.unicodeScalars.count <= 512 && !$0.unicodeScalars.contains { $0.value < 0x20 }
              })
        else { throw .invalidInput("`aud` must be 1 to 10 non-empty strings of at most 512 characters, no control characters") }
        return audience
    }

    /// Free text from a receiver: at most ``maximumTextLength`` characters, no control characters; "" when nil.
    static func validateText(_ text: String?, _ name: String) throws(BrokerError) -> String {
        guard let text else { return "" }
        guard text.unicodeScalars.count <= maximumTextLength,
              !text.unicodeScalars.contains(where: { $0.properties.generalCategory == .control })
        else { throw .invalidInput("`\(name)` must be at most \(maximumTextLength) characters, no control characters") }
        return text
    }
}
