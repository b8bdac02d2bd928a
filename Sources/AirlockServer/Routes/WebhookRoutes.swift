import AirlockBroker
import AirlockCore
import AirlockStore
import Foundation
import Hummingbird

/// `/v1/webhooks`: admins (an `alk_` token with the `admin` scope) add, list and remove webhook endpoints. Everyone
/// else gets 403 `forbidden`, before the body is read.
///
/// - `POST /v1/webhooks` `{url, description?, event_types[]?, channels[]?, min_severity?, signing?}` → 201 with the
///   endpoint and, for `hmac` signing, `secret` (`whsec_…`), shown this once (`Cache-Control: no-store`); an
///   `ed25519` endpoint shows `public_key` (`whpk_…`) instead, here and in every listing. Unknown fields are 400.
/// - `GET /v1/webhooks` → `{items: [endpoint]}`, oldest first; never a secret.
/// - `DELETE /v1/webhooks/{id}` → 204; its undelivered events are dropped. An id that names no endpoint (or is no
///   UUID) is 404 `not_found`.
/// - `POST /v1/webhooks/{id}/replay` → `{queued}`: a range of events (by sequence or time) or the dead letters,
///   delivered again, in order (``replay(_:_:)``).
/// - `POST /v1/webhooks/{id}/test` → 202 `{event_id}`: an `airlock.webhook.test` event for this endpoint alone.
/// - `POST /v1/webhooks/{id}/rotate` `{window_seconds?}` → 200 with the endpoint and its new `secret` (hmac, shown
///   this once) or `public_key` (ed25519); the old key keeps signing beside it for the window (default a day).
///
/// `airlock.webhook.created` and `airlock.webhook.deleted` are audited with the caller's principal id as `actor`.
struct WebhookRoutes {
    let webhooks: Webhooks

    static let fields: Set<String> = ["url", "description", "event_types", "channels", "min_severity", "signing"]

    func register(on router: Router<AirlockRequestContext>) {
        let group = router.group("v1/webhooks")
        group.post { request, context in try await add(request, context) }
        group.get { _, context in try await list(context) }
        group.delete(":id") { _, context in try await remove(context) }
        group.post(":id/replay") { request, context in try await replay(request, context) }
        group.post(":id/test") { _, context in try await test(context) }
        group.post(":id/rotate") { request, context in try await rotate(request, context) }
    }

    static let replayFields: Set<String> = ["from_sequence", "to_sequence", "since", "until", "dead_letters"]

    /// `POST /v1/webhooks/{id}/replay` `{from_sequence?, to_sequence?}`, `{since?, until?}` (RFC 3339) or
    /// `{dead_letters: true}` → `{queued: N}`; exactly one kind. A disabled endpoint is enabled again.
    func replay(_ request: Request, _ context: AirlockRequestContext) async throws -> Response {
        let admin = try context.requirePrincipal(withScope: .admin)
        let id = try Self.id(context)
        let body = try await RequestBody.read(request, allowed: Self.replayFields)
        let from = try body.int("from_sequence"), through = try body.int("to_sequence")
        let since = try Self.time(body, "since"), until = try Self.time(body, "until")
        let dead = try body.bool("dead_letters") ?? false
        let kinds = [from != nil || through != nil, since != nil || until != nil, dead].filter { $0 }.count
        guard kinds == 1 else {
            throw BrokerError.invalidInput(
                "give `from_sequence`/`to_sequence`, `since`/`until`, or `dead_letters: true` (exactly one kind)")
        }
        let replay: WebhookStore.Replay =
            dead ? .deadLetters : (since != nil || until != nil) ? .time(from: since, until: until)
            : .sequences(from: from, through: through)
        let queued = try await webhooks.replay(id, replay, by: admin.id, logger: context.logger)
        return JSONResponse.make(.object(["queued": .int(Int64(queued))]))
    }

    /// `POST /v1/webhooks/{id}/test` → 202 `{event_id}`: a test event for this endpoint alone.
    func test(_ context: AirlockRequestContext) async throws -> Response {
        let admin = try context.requirePrincipal(withScope: .admin)
        let event = try await webhooks.test(try Self.id(context), by: admin.id, logger: context.logger)
        return JSONResponse.make(.object(["event_id": JSONResponse.id(event)]), status: .accepted)
    }

    /// `POST /v1/webhooks/{id}/rotate` `{window_seconds?}` → the endpoint with its new key (``Webhooks/rotate``).
    func rotate(_ request: Request, _ context: AirlockRequestContext) async throws -> Response {
        let admin = try context.requirePrincipal(withScope: .admin)
        let id = try Self.id(context)
        let body = try await RequestBody.read(request, allowed: ["window_seconds"])
        let window = try body.int("window_seconds").map { TimeInterval($0) } ?? Webhooks.defaultRotationWindow
        let (endpoint, secret) = try await webhooks.rotate(id, window: window, by: admin.id, logger: context.logger)
        context.logger.info(
            "webhook signing key rotated", metadata: ["webhook_id": "\(Self.text(endpoint.id))", "actor": "\(admin.id)"])
        var answer = Self.fields(endpoint)
        if let secret { answer["secret"] = .string(secret) }
        return JSONResponse.secret(.object(answer))
    }

    private static func id(_ context: AirlockRequestContext) throws -> UUID {
        guard let text = context.parameters.get("id"), let id = UUID(uuidString: text) else {
            throw BrokerError.notFound("no such webhook")
        }
        return id
    }

    /// Whether the `YYYY-MM-DDTHH:MM:SS` of an RFC 3339 time are each in range (Foundation's parser rolls minute 99
    /// into the next hour and 30 February into March instead of refusing them).
    static func fieldsInRange(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        guard bytes.count >= 19 else { return false }
        func number(_ range: Range<Int>) -> Int? {
            let digits = bytes[range]
            guard digits.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }) else { return nil }
            return Int(String(decoding: digits, as: UTF8.self))
        }
        guard let year = number(0..<4), let month = number(5..<7), let day = number(8..<10), let hour = number(11..<13),
              let minute = number(14..<16), let second = number(17..<19),
              (1...12).contains(month), (0...23).contains(hour), (0...59).contains(minute), (0...60).contains(second)
        else { return false }
        let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
        let days = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1]
        return (1...days).contains(day)
    }

    private static func time(_ body: RequestBody, _ key: String) throws -> Date? {
        guard let text = try body.string(key, maxLength: 64) else { return nil }
        guard Self.fieldsInRange(text), let date = try? Date(text, strategy: .iso8601) else {
            throw BrokerError.invalidInput("`\(key)` must be an RFC 3339 time, e.g. 2026-12-05T09:00:00Z")
        }
        return date
    }

    func add(_ request: Request, _ context: AirlockRequestContext) async throws -> Response {
        let admin = try context.requirePrincipal(withScope: .admin)
        let body = try await RequestBody.read(request, allowed: Self.fields)
        let ask = NewWebhook(
            url: try body.string("url", required: true, maxLength: WebhookDestination.maximumLength) ?? "",
            description: try body.string("description", maxLength: Webhooks.maximumDescriptionLength) ?? "",
            eventTypes: try body.strings("event_types", maxCount: Webhooks.maximumFilters,
                                         maxLength: Webhooks.maximumFilterLength) ?? [],
            channels: try body.strings("channels", maxCount: Webhooks.maximumFilters,
                                       maxLength: Webhooks.maximumFilterLength) ?? [],
            minimumSeverity: try body.string("min_severity", maxLength: 16),
            signing: try body.string("signing", maxLength: 16))
        let (endpoint, secret) = try await webhooks.add(ask, by: admin.id, logger: context.logger)
        context.logger.info(
            "webhook added", metadata: ["webhook_id": "\(Self.text(endpoint.id))", "actor": "\(admin.id)"])
        var answer = Self.fields(endpoint)
        if let secret {
            answer["secret"] = .string(secret)
            return JSONResponse.secret(.object(answer), status: .created)
        }
        return JSONResponse.make(.object(answer), status: .created)
    }

    func list(_ context: AirlockRequestContext) async throws -> Response {
        _ = try context.requirePrincipal(withScope: .admin)
        let endpoints = try await webhooks.list(logger: context.logger)
        return JSONResponse.make(.object(["items": .array(endpoints.map { .object(Self.fields($0)) })]))
    }

    func remove(_ context: AirlockRequestContext) async throws -> Response {
        let admin = try context.requirePrincipal(withScope: .admin)
        let id = try Self.id(context)
        try await webhooks.remove(id, by: admin.id, logger: context.logger)
        context.logger.info("webhook removed", metadata: ["webhook_id": "\(Self.text(id))", "actor": "\(admin.id)"])
        return Response(status: .noContent)
    }

    /// An endpoint as the API shows it: everything but its key, which is sealed and never leaves the broker.
    static func fields(_ endpoint: WebhookEndpoint) -> [String: JSONValue] {
        var fields: [String: JSONValue] = [
            "id": JSONResponse.id(endpoint.id), "url": .string(endpoint.url),
            "description": .string(endpoint.description),
            "event_types": .array(endpoint.eventTypes.map { .string($0) }),
            "channels": .array(endpoint.channels.map { .string($0) }),
            "min_severity": .string(endpoint.minimumSeverity.rawValue), "signing": .string(endpoint.signing.rawValue),
            "status": .string(endpoint.status.rawValue), "created_at": JSONResponse.time(endpoint.createdAt),
            "created_by": .string(endpoint.createdBy), "failing_since": JSONResponse.time(endpoint.failingSince),
            "failures": .int(Int64(endpoint.failures)),
        ]
        if let reason = endpoint.disabledReason { fields["disabled_reason"] = .string(reason) }
        if let ends = endpoint.rotationEndsAt { fields["rotation_ends_at"] = JSONResponse.time(ends) }
        if let key = endpoint.publicKey, let publicKey = try? WebhookPublicKey(bytes: key) {
            fields["public_key"] = .string(publicKey.text)
        }
        return fields
    }

    private static func text(_ id: UUID) -> String { id.uuidString.lowercased() }
}
