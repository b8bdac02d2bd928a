import AirlockBroker
import AirlockCore
import Foundation
import Hummingbird

/// Airlock as a Shared Signals transmitter (SSF 1.0, issue 16): its metadata and keys (public), and stream
/// management for receivers holding `alk_` tokens with `ssf.manage` (create, read, change, replace, delete, status,
/// verification, poll — each only of the streams it created; another's is 404, as if it did not exist) and for
/// `ssf.read` tokens (read and status of every stream). Admins may do all. Served only when the transmitter is
/// configured.
///
/// - `GET /.well-known/ssf-configuration`, `GET /ssf/jwks`
/// - `POST|GET|PATCH|PUT|DELETE /ssf/streams` (the stream id as `stream_id`, in the query for GET and DELETE)
/// - `GET|POST /ssf/status`, `POST /ssf/verify`
/// - `POST /ssf/poll/{stream_id}` (RFC 8936)
struct SharedSignalsTransmitterRoutes {
    let streams: SharedSignalsStreams
    let settings: SharedSignalsTransmitterSettings

    /// The paths below `/ssf` that need a caller's token (the rest of `/ssf` is public or, `/ssf/receive`, checks the
    /// transmitter's own token).
    static let authenticatedPaths: Set<String> = ["/ssf/streams", "/ssf/status", "/ssf/verify"]
    static let pollPrefix = "/ssf/poll/"

    /// Fields a receiver may send in a stream's configuration; those Airlock sets itself are accepted and ignored
    /// (a receiver often sends back what it read).
    static let streamFields: Set<String> = [
        "stream_id", "iss", "aud", "delivery", "events_supported", "events_requested", "events_delivered", "description",
        "min_verification_interval", "inactivity_timeout",
    ]
    static let deliveryFields: Set<String> = ["method", "endpoint_url", "authorization_header"]

    func register(on router: Router<AirlockRequestContext>) {
        router.get(".well-known/ssf-configuration") { _, _ in configuration() }
        router.get("ssf/jwks") { _, _ in
            JSONResponse.make(.object(["keys": .array([settings.signer.publicJWK])]))
        }
        router.post("ssf/streams") { request, context in try await create(request, context) }
        router.get("ssf/streams") { request, context in try await read(request, context) }
        router.patch("ssf/streams") { request, context in try await update(request, context, replacing: false) }
        router.put("ssf/streams") { request, context in try await update(request, context, replacing: true) }
        router.delete("ssf/streams") { request, context in try await delete(request, context) }
        router.get("ssf/status") { request, context in try await status(request, context) }
        router.post("ssf/status") { request, context in try await setStatus(request, context) }
        router.post("ssf/verify") { request, context in try await verify(request, context) }
        router.post("ssf/poll/:id") { request, context in try await poll(request, context) }
    }

    /// `/.well-known/ssf-configuration` (SSF 1.0 §7.1).
    func configuration() -> Response {
        JSONResponse.make(.object([
            "spec_version": "1_0",
            "issuer": .string(settings.issuer),
            "jwks_uri": .string(settings.url("/ssf/jwks")),
            "delivery_methods_supported": [
                .string(SharedSignalsStream.Delivery.pushMethod), .string(SharedSignalsStream.Delivery.pollMethod),
            ],
            "configuration_endpoint": .string(settings.url("/ssf/streams")),
            "status_endpoint": .string(settings.url("/ssf/status")),
            "verification_endpoint": .string(settings.url("/ssf/verify")),
            "authorization_schemes": [["spec_urn": "urn:ietf:rfc:6750"]],
            "critical_subject_members": [],
        ]))
    }

    func create(_ request: Request, _ context: AirlockRequestContext) async throws -> Response {
        let caller = try Self.require(context, manage: true)
        let body = try await RequestBody.read(request, allowed: Self.streamFields)
        let stream = try await streams.create(try Self.ask(body), by: caller, logger: context.logger)
        context.logger.info("shared signals stream created", metadata: [
            "stream_id": "\(Self.text(stream.id))", "owner": "\(stream.owner)", "method": "\(stream.delivery.method)",
        ])
        return JSONResponse.make(streamJSON(stream), status: .created)
    }

    func read(_ request: Request, _ context: AirlockRequestContext) async throws -> Response {
        let caller = try Self.require(context, manage: false)
        if let text = request.uri.queryParameters.get("stream_id") {
            let stream = try await streams.get(try Self.id(text), by: caller, logger: context.logger)
            return JSONResponse.make(streamJSON(stream, for: caller))
        }
        let all = try await streams.list(by: caller, logger: context.logger)
        return JSONResponse.make(.array(all.map { streamJSON($0, for: caller) }))
    }

    func update(_ request: Request, _ context: AirlockRequestContext, replacing: Bool) async throws -> Response {
        let caller = try Self.require(context, manage: true)
        let body = try await RequestBody.read(request, allowed: Self.streamFields)
        let id = try Self.id(try body.string("stream_id", required: true, maxLength: 64) ?? "")
        let stream = try await streams.update(
            id, try Self.ask(body), replacing: replacing, by: caller, logger: context.logger)
        return JSONResponse.make(streamJSON(stream))
    }

    func delete(_ request: Request, _ context: AirlockRequestContext) async throws -> Response {
        let caller = try Self.require(context, manage: true)
        let id = try Self.id(request.uri.queryParameters.get("stream_id") ?? "")
        try await streams.delete(id, by: caller, logger: context.logger)
        context.logger.info("shared signals stream deleted", metadata: ["stream_id": "\(Self.text(id))"])
        return Response(status: .noContent)
    }

    func status(_ request: Request, _ context: AirlockRequestContext) async throws -> Response {
        let caller = try Self.require(context, manage: false)
        let id = try Self.id(request.uri.queryParameters.get("stream_id") ?? "")
        return JSONResponse.make(Self.statusJSON(try await streams.get(id, by: caller, logger: context.logger)))
    }

    func setStatus(_ request: Request, _ context: AirlockRequestContext) async throws -> Response {
        let caller = try Self.require(context, manage: true)
        let body = try await RequestBody.read(request, allowed: ["stream_id", "status", "reason"])
        let id = try Self.id(try body.string("stream_id", required: true, maxLength: 64) ?? "")
        let text = try body.string("status", required: true, maxLength: 16) ?? ""
        guard let status = SharedSignalsStream.Status(rawValue: text) else {
            throw RequestBody.invalid("`status` must be enabled, paused or disabled")
        }
        let stream = try await streams.setStatus(
            id, status, reason: try body.string("reason", maxLength: SharedSignalsStreams.maximumTextLength), by: caller,
            logger: context.logger)
        return JSONResponse.make(Self.statusJSON(stream))
    }

    func verify(_ request: Request, _ context: AirlockRequestContext) async throws -> Response {
        let caller = try Self.require(context, manage: true)
        let body = try await RequestBody.read(request, allowed: ["stream_id", "state"])
        let id = try Self.id(try body.string("stream_id", required: true, maxLength: 64) ?? "")
        try await streams.verify(
            id, state: try body.string("state", maxLength: SharedSignalsStreams.maximumTextLength), by: caller,
            logger: context.logger)
        return Response(status: .noContent)
    }

    /// RFC 8936 §2.4: acknowledge, then up to `maxEvents` waiting SETs; without `returnImmediately: true`, waits up
    /// to ``longPoll`` for one to arrive.
    func poll(_ request: Request, _ context: AirlockRequestContext) async throws -> Response {
        let caller = try Self.require(context, manage: true)
        let id = try Self.id(context.parameters.get("id") ?? "")
        let body = try await RequestBody.read(request, allowed: ["maxEvents", "returnImmediately", "ack", "setErrs"])
        let maximum = try body.int("maxEvents").map { Int(clamping: $0) }
        if let maximum, maximum < 0 { throw RequestBody.invalid("`maxEvents` must not be negative") }
        let immediately = try body.bool("returnImmediately") ?? false
        // Any strings: one that names no SET of the stream acknowledges nothing.
        var acknowledged: [String] = []
        if let value = body.fields["ack"], !value.isNull {
            guard let items = value.arrayValue, items.count <= SharedSignalsStreams.maximumPollEvents,
                  items.allSatisfy({ ($0.stringValue?.unicodeScalars.count ?? 65) <= 64 })
            else { throw RequestBody.invalid("`ack` must be at most 1000 jti strings of at most 64 characters") }
            acknowledged = items.compactMap(\.stringValue)
        }
        var failed: [String: String] = [:]
        if let errors = body.fields["setErrs"], !errors.isNull {
            guard case .object(let members) = errors, members.count <= SharedSignalsStreams.maximumPollEvents else {
                throw RequestBody.invalid("`setErrs` must be an object of jti to {err, description}")
            }
            for (jti, value) in members {
                guard let code = value["err"]?.stringValue else {
                    throw RequestBody.invalid("`setErrs` must be an object of jti to {err, description}")
                }
                // A jti longer than Airlock's names no SET of the stream: nothing to mark.
                if jti.utf8.count <= 64 { failed[jti] = String(code.prefix(64)) }
            }
        }
        var result = try await streams.poll(
            id, maximum: maximum, acknowledged: acknowledged, failed: failed, by: caller, logger: context.logger)
        let deadline = ContinuousClock.now + Self.longPoll
        while result.sets.isEmpty, !immediately, maximum != 0, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(250))
            result = try await streams.poll(
                id, maximum: maximum, acknowledged: [], failed: [:], by: caller, logger: context.logger)
        }
        return JSONResponse.make(.object([
            "sets": .object(result.sets.mapValues { .string($0) }), "moreAvailable": .bool(result.moreAvailable),
        ]))
    }

    /// How long a poll without `returnImmediately` waits for a SET.
    static let longPoll: Duration = .seconds(10)

    /// A stream's configuration as SSF 1.0 §8.1.1 shows it, never its authorization header. A reader who is neither
    /// its owner nor an admin (an `ssf.read` token) sees only the origin of a push URL: a receiver may keep a secret in
    /// its URL's path or query, as webhook receivers do (the audit log shows only the origin too).
    func streamJSON(_ stream: SharedSignalsStream, for caller: Principal? = nil) -> JSONValue {
        var delivery: [String: JSONValue] = ["method": .string(stream.delivery.method)]
        switch stream.delivery {
        case .push(let url):
            let whole = caller.map { $0.id == stream.owner || $0.has(scope: ApiTokenScope.admin.rawValue) } ?? true
            delivery["endpoint_url"] = .string(whole ? url : WebhookDestination.origin(of: url))
        case .poll: delivery["endpoint_url"] = .string(settings.url(Self.pollPrefix + Self.text(stream.id)))
        }
        var fields: [String: JSONValue] = [
            "stream_id": .string(Self.text(stream.id)), "iss": .string(settings.issuer),
            "aud": stream.audience.count == 1 ? .string(stream.audience[0]) : .array(stream.audience.map { .string($0) }),
            "delivery": .object(delivery),
            "events_supported": .array(SharedSignalsTransmitter.supportedEvents.map { .string($0.rawValue) }),
            "events_requested": .array(stream.eventsRequested.map { .string($0) }),
            "events_delivered": .array(stream.eventsDelivered.map { .string($0) }),
        ]
        if !stream.description.isEmpty { fields["description"] = .string(stream.description) }
        return .object(fields)
    }

    static func statusJSON(_ stream: SharedSignalsStream) -> JSONValue {
        var fields: [String: JSONValue] = ["stream_id": .string(text(stream.id)), "status": .string(stream.status.rawValue)]
        if let reason = stream.statusReason { fields["reason"] = .string(reason) }
        return .object(fields)
    }

    /// What a stream body asks for. The fields Airlock sets itself are ignored, but only when of their type.
    static func ask(_ body: RequestBody) throws -> StreamAsk {
        for key in ["stream_id", "iss"] where body.fields[key].map({ $0.stringValue == nil }) ?? false {
            throw RequestBody.invalid("`\(key)` must be a string")
        }
        for key in ["events_supported", "events_delivered"] {
            guard let value = body.fields[key] else { continue }
            guard let items = value.arrayValue, items.allSatisfy({ $0.stringValue != nil }) else {
                throw RequestBody.invalid("`\(key)` must be an array of strings")
            }
        }
        for key in ["min_verification_interval", "inactivity_timeout"] {
            guard let value = body.fields[key] else { continue }
            guard case .int = value else { throw RequestBody.invalid("`\(key)` must be an integer") }
        }
        if let delivery = body.fields["delivery"], delivery.objectValue == nil {
            throw RequestBody.invalid("`delivery` must be an object")
        }
        var ask = StreamAsk()
        if let delivery = try body.object("delivery", allowed: deliveryFields) {
            ask.deliveryMethod = try delivery.string("method", required: true, maxLength: 64)
            ask.endpointURL = try delivery.string("endpoint_url", maxLength: WebhookDestination.maximumLength)
            ask.authorizationHeader = try delivery.string("authorization_header", maxLength: 4096)
        }
        ask.eventsRequested = try body.strings("events_requested", maxCount: 50, maxLength: 512)
        switch body.fields["aud"] {
        case .string(let one)?: ask.audience = [one]
        case .array?: ask.audience = try body.strings("aud", maxCount: 10, maxLength: 512)
        case .null?, nil: break
        default: throw RequestBody.invalid("`aud` must be a string or an array of strings")
        }
        ask.description = try body.string("description", maxLength: SharedSignalsStreams.maximumTextLength)
        return ask
    }

    /// The caller, when it may manage streams (`admin`, `ssf.manage`) or, with `manage` false, read them (and
    /// `ssf.read`); 403 `forbidden` otherwise, before any body is read.
    static func require(_ context: AirlockRequestContext, manage: Bool) throws -> Principal {
        let caller = try context.requirePrincipal()
        let scopes: [ApiTokenScope] = manage ? [.admin, .ssfManage] : [.admin, .ssfManage, .ssfRead]
        guard scopes.contains(where: { caller.has(scope: $0.rawValue) }) else {
            throw APIError(
                .forbidden, code: "forbidden",
                message: "Shared Signals streams need an airlock token with the "
                    + scopes.map { "`\($0.rawValue)`" }.joined(separator: " or ") + " scope")
        }
        return caller
    }

    static func id(_ text: String) throws -> UUID {
        guard let id = UUID(uuidString: text) else { throw BrokerError.notFound("no such stream") }
        return id
    }

    static func text(_ id: UUID) -> String { id.uuidString.lowercased() }
}
