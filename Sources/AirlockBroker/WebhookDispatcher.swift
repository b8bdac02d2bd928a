import AirlockCore
import AirlockPostgres
import AirlockStore
import Foundation
import Logging
import Synchronization

/// Delivers the outbox (issue 14). Every replica runs one: it claims due endpoints (`FOR UPDATE SKIP LOCKED`, so one
/// dispatcher at a time delivers to an endpoint, and its events go out in the chain's order), posts each endpoint's
/// chained events in order through the ``WebhookTransport``, and records the outcome: delivered, retried with the
/// endpoint's backoff, the endpoint disabled (410), events dead-lettered after three days (``WebhookDeliveryState``).
///
/// Endpoints are delivered to concurrently, at most ``maximumEndpoints`` at once, so a slow or dead receiver holds
/// up only its own events (its attempts end at the transport's timeout). Nothing here is on a request's path: the
/// outbox rows commit with the events, and the dispatcher wakes when events are chained (``wake()``, from the
/// `airlock_audit_chained` notification) or when the earliest backoff ends.
public final class WebhookDispatcher: Sendable {
    public let store: WebhookDeliveryStore
    let transport: any WebhookTransport
    let clock: any WallClock
    let logger: Logger
    /// Signs the Security Event Tokens of Shared Signals push streams; nil: the broker transmits none (a stream
    /// cannot be created then, and one left from before is not delivered to).
    let transmitter: SharedSignalsTransmitter?
    public let scheduler: ExpiryScheduler
    public let maximumEndpoints: Int
    /// Events read per round trip for one endpoint.
    public let batchSize: Int
    private let delivering = Mutex<Set<UUID>>([])
    /// How often an endpoint's deliveries are recorded while a batch goes out: what a killed broker sends twice.
    static let recordInterval: TimeInterval = 0.025

    public init(
        store: WebhookDeliveryStore, transport: any WebhookTransport, clock: any WallClock = SystemWallClock(),
        transmitter: SharedSignalsTransmitter? = nil, maximumEndpoints: Int = 32, batchSize: Int = 100, logger: Logger
    ) {
        self.store = store
        self.transmitter = transmitter
        self.transport = transport
        self.clock = clock
        self.logger = logger
        self.scheduler = ExpiryScheduler(clock: clock)
        self.maximumEndpoints = max(1, maximumEndpoints)
        self.batchSize = max(1, batchSize)
    }

    /// New events may be waiting (they were chained): look again now.
    public func wake() { scheduler.wake() }

    /// Claims and delivers until cancelled, while `isReady`; looks again when woken, when an endpoint's backoff
    /// ends, and after `fallback` at the latest (a missed notification costs at most that).
    public func run(fallback: Duration, isReady: @escaping @Sendable () -> Bool) async {
        await withDiscardingTaskGroup { group in
            while !Task.isCancelled {
                var due: Date?
                let ready = isReady()
                if ready {
                    do {
                        for claimed in try await claim() {
                            group.addTask { await self.deliver(claimed) }
                        }
                        due = try await store.nextDue(logger: logger)
                    } catch {
                        logger.warning(
                            "webhook dispatch cannot reach the database; retrying",
                            metadata: ["error": "\(describeDatabaseError(error))"])
                    }
                }
                await scheduler.wait(due: due, fallback: ready ? fallback : min(fallback, .milliseconds(100)))
            }
            group.cancelAll()
        }
    }

    /// Claims due endpoints this dispatcher is not delivering to yet, up to its room.
    func claim() async throws -> [ClaimedWebhookEndpoint] {
        let busy = delivering.withLock { Array($0) }
        let room = maximumEndpoints - busy.count
        guard room > 0 else { return [] }
        let claimed = try await store.claimDue(limit: room, excluding: busy, logger: logger)
        delivering.withLock { set in for endpoint in claimed { set.insert(endpoint.endpoint.id) } }
        return claimed
    }

    /// Delivers `claimed`'s waiting events in order until there are none, one fails, or the task is cancelled;
    /// then gives the endpoint back.
    func deliver(_ claimed: ClaimedWebhookEndpoint) async {
        let endpoint = claimed.endpoint
        defer {
            delivering.withLock { _ = $0.remove(endpoint.id) }
            scheduler.wake()  // room for another endpoint, or this one's next attempt is recorded
        }
        do {
            let keys = try Self.signingKeys(claimed)
            var state = claimed.state
            // The claim is renewed when a third of it has passed (a slow receiver may take longer than one claim
            // lasts); a claim lost meanwhile (removed, disabled, taken over) ends this delivery.
            var renewed = clock.now()
            var recorded = clock.now()
            func holdsClaim() async throws -> Bool {
                guard clock.now().timeIntervalSince(renewed) > store.claimDuration / 3 else { return true }
                renewed = clock.now()
                return try await store.extendClaim(endpoint.id, logger: logger)
            }
            while !Task.isCancelled {
                let batch = try await store.pending(for: endpoint.id, limit: batchSize, logger: logger)
                var delivered: [Int64] = []
                var stopped = false
                for delivery in batch {
                    guard !Task.isCancelled, try await holdsClaim() else {
                        stopped = true
                        break
                    }
                    let response = await transport.post(try outgoing(delivery, claimed, keys: keys))
                    var generator = SystemRandomNumberGenerator()
                    let action = state.apply(response, at: clock.now(), queuedAt: delivery.occurredAt, jitter: &generator)
                    if action == .delivered {
                        delivered.append(delivery.id)
                        // Recorded every ``recordInterval``, not only per batch: a broker killed mid-batch sends
                        // again only what went out since (at least once, under the same `webhook-id`).
                        if clock.now().timeIntervalSince(recorded) >= Self.recordInterval {
                            try await store.delivered(delivered, endpoint: endpoint.id, logger: logger)
                            delivered = []
                            recorded = clock.now()
                        }
                        continue
                    }
                    // What went out before the failure is recorded first; the endpoint waits for its next attempt
                    // (a retry, or after dead letters the next event), and is claimed again when it is due.
                    try await store.delivered(delivered, endpoint: endpoint.id, logger: logger)
                    delivered = []
                    try await store.failed(
                        delivery, to: endpoint, response: response, state: state, action: action, logger: logger)
                    log(action, response, endpoint: endpoint, delivery: delivery)
                    stopped = true
                    break
                }
                try await store.delivered(delivered, endpoint: endpoint.id, logger: logger)
                if stopped || batch.count < batchSize { break }
            }
        } catch {
            logger.warning(
                "webhook delivery stopped; it resumes when the endpoint is claimed again",
                metadata: ["webhook_id": "\(endpoint.id.uuidString.lowercased())",
                           "error": "\(describeDatabaseError(error))"])
        }
        do {
            try await store.release(endpoint.id, logger: logger)
        } catch {
            // The claim lapses by itself (``WebhookDeliveryStore``'s claim duration).
            logger.debug("webhook endpoint not released; its claim will lapse", metadata: ["error": "\(error)"])
        }
    }

    /// The request for `delivery`: the signed CloudEvent, or for a Shared Signals stream its SET.
    func outgoing(
        _ delivery: PendingWebhookDelivery, _ claimed: ClaimedWebhookEndpoint, keys: [WebhookSigningKey]
    ) throws -> OutgoingWebhook {
        let endpoint = claimed.endpoint
        guard endpoint.format != .cloudEvents else { return sign(delivery, to: endpoint, keys: keys) }
        guard let transmitter else {
            throw SharedSignalsDeliveryError("this broker has no Shared Signals transmitter key; the stream waits")
        }
        let event = try JSONValue.parse(Data(delivery.body))
        guard let token = try transmitter.token(
            of: event, part: delivery.part, audience: claimed.audience, issuedAt: clock.now())
        else {
            throw SharedSignalsDeliveryError("event \(delivery.sequence) part \(delivery.part) is no SET")
        }
        let authorization = claimed.signingKeys.first.map { String(decoding: $0, as: UTF8.self) }
        return OutgoingWebhook(
            url: endpoint.url, id: SharedSignalsTransmitter.jti(eventID: delivery.eventID.uuidString, part: delivery.part), timestamp: 0, signature: "",
            body: Array(token.utf8), kind: .securityEvent(authorization: authorization))
    }

    /// The signed request for `delivery`, timestamped now.
    func sign(_ delivery: PendingWebhookDelivery, to endpoint: WebhookEndpoint, keys: [WebhookSigningKey]) -> OutgoingWebhook {
        let id = delivery.eventID.uuidString.lowercased()
        let timestamp = Int64(clock.now().timeIntervalSince1970.rounded(.down))
        return OutgoingWebhook(
            url: endpoint.url, id: id, timestamp: timestamp,
            signature: WebhookSignature.header(id: id, timestamp: timestamp, body: delivery.body, keys: keys),
            body: delivery.body)
    }

    /// The endpoint's keys as signing keys (current first).
    static func signingKeys(_ claimed: ClaimedWebhookEndpoint) throws -> [WebhookSigningKey] {
        try claimed.signingKeys.compactMap { bytes in
            switch claimed.endpoint.signing {
            case .hmac: .hmac(try WebhookSecret(bytes: bytes))
            case .ed25519: .ed25519(try WebhookSigningKeyPair(privateKeyBytes: bytes))
            case .none: nil  // a stream's sealed value is its receiver's authorization header, not a key
            }
        }
    }

    private func log(
        _ action: WebhookDeliveryState.Action, _ response: WebhookResponse, endpoint: WebhookEndpoint,
        delivery: PendingWebhookDelivery
    ) {
        var metadata: Logger.Metadata = [
            "webhook_id": "\(endpoint.id.uuidString.lowercased())", "sequence": "\(delivery.sequence)",
        ]
        switch response {
        case .status(let status, _): metadata["status"] = "\(status)"
        case .failed(let reason): metadata["error"] = "\(reason)"
        }
        switch action {
        case .delivered: break
        case .retry(let at):
            metadata["retry_at"] = "\(AuditTime.format(at))"
            logger.info("webhook delivery failed; the endpoint will be retried", metadata: metadata)
        case .disable:
            logger.warning("webhook endpoint disabled: its receiver answered 410 Gone", metadata: metadata)
        case .deadLetter:
            logger.error("webhook events dead-lettered after three days of failures", metadata: metadata)
        }
    }
}

/// Why a Shared Signals delivery cannot be made (the stream waits and is retried like any failed delivery).
struct SharedSignalsDeliveryError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
