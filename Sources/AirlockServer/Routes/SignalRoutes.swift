import AirlockBroker
import AirlockCore
import AirlockStore
import Foundation
import Hummingbird

/// `/v1/signals`: external risk signals from security tools (issue 15, item 4).
///
/// - `POST /v1/signals` `{principal, signal, severity, ttl_seconds, detail?}` → 201 with the signal. Admins and
///   `alk_` tokens with the `signals` scope; anyone else (people, `service`, `auditor`, `introspect` tokens) 403
///   `forbidden` before the body is read. Unknown fields are 400, values out of their limits 422
///   `validation_failed`; nothing is stored then. Audited as `airlock.signal.received`.
/// - `GET /v1/signals?principal=&all=&limit=&cursor=` → `{items, next_cursor}`, newest first: the active signals,
///   or with `all=true` the expired and withdrawn ones too. Admins, `signals` tokens and auditors (read-only: the
///   audit log shows every signal to auditors already, so the list shows them nothing new).
/// - `DELETE /v1/signals/{id}` → 204: withdrawn now (audited `airlock.signal.withdrawn`); again, 204 and nothing
///   changes. Admins and `signals` tokens. An id that names no signal (or is no UUID) is 404 `not_found`.
///
/// The detail text comes from outside and may name hosts or people: it is stored and audited, never logged.
struct SignalRoutes {
    let signals: Signals
    /// The broker's clock: a listed signal's `status` is judged at its reading.
    let clock: any WallClock

    /// The fields `POST /v1/signals` accepts.
    static let fields: Set<String> = ["principal", "signal", "severity", "ttl_seconds", "detail"]

    func register(on router: Router<AirlockRequestContext>) {
        let group = router.group("v1/signals")
        group.post { request, context in try await add(request, context) }
        group.get { request, context in try await list(request, context) }
        group.delete(":id") { _, context in try await withdraw(context) }
    }

    func add(_ request: Request, _ context: AirlockRequestContext) async throws -> Response {
        let caller = try Self.requireSender(context)
        let body = try await RequestBody.read(request, allowed: Self.fields)
        let ask = NewSignal(
            principal: try Self.principal(body),
            name: try body.string("signal", required: true, maxLength: 64) ?? "",
            severity: try body.string("severity", required: true, maxLength: 16) ?? "",
            ttlSeconds: try body.int("ttl_seconds", required: true) ?? 0,
            detail: try body.string("detail", maxLength: ExternalSignal.maximumDetailLength))
        let signal = try await signals.add(ask, by: caller.id, logger: context.logger)
        // Never the detail: free text from another tool, which may name hosts or people.
        context.logger.info(
            "risk signal received",
            metadata: [
                "signal_id": "\(Self.text(signal.id))", "signal": "\(signal.name)",
                "severity": "\(signal.severity.rawValue)", "source": "\(caller.id)",
            ])
        return JSONResponse.make(.object(Self.fields(signal, at: signal.receivedAt)), status: .created)
    }

    func list(_ request: Request, _ context: AirlockRequestContext) async throws -> Response {
        let caller = try context.requirePrincipal()
        guard Self.maySend(caller) || caller.has(scope: ApiTokenScope.auditor.rawValue) else {
            throw APIError(
                .forbidden, code: "forbidden",
                message: "listing signals needs an airlock token with the `admin`, `signals` or `auditor` scope")
        }
        let query = request.uri.queryParameters
        let principal: String? = query.get("principal")
        let all: Bool
        switch query.get("all") {
        case .none: all = false
        case .some(let text) where text == "false": all = false
        case .some(let text) where text == "true": all = true
        case .some: throw RequestBody.invalid("`all` must be true or false")
        }
        let limit = Int(try AuditRoutes.integer(
            query.get("limit"), "limit", default: 100, range: 1...Int64(SignalStore.maximumPageSize)))
        let cursor = try LeaseRoutes.cursor(query.get("cursor"))
        let page = try await signals.list(
            principal: principal, includeInactive: all, limit: limit, after: cursor, logger: context.logger)
        let now = clock.now()
        return JSONResponse.make(.object([
            "items": .array(page.items.map { .object(Self.fields($0, at: now)) }),
            "next_cursor": JSONResponse.id(page.nextCursor),
        ]))
    }

    func withdraw(_ context: AirlockRequestContext) async throws -> Response {
        let caller = try Self.requireSender(context)
        guard let text = context.parameters.get("id"), let id = UUID(uuidString: text) else {
            throw BrokerError.notFound("no such signal")
        }
        let signal = try await signals.withdraw(id, by: caller.id, logger: context.logger)
        context.logger.info(
            "risk signal withdrawn",
            metadata: ["signal_id": "\(Self.text(signal.id))", "signal": "\(signal.name)", "actor": "\(caller.id)"])
        return Response(status: .noContent)
    }

    /// Whether `caller` may send and withdraw signals: an `alk_` token with the `admin` or `signals` scope.
    static func maySend(_ caller: Principal) -> Bool {
        caller.has(scope: ApiTokenScope.admin.rawValue) || caller.has(scope: ApiTokenScope.signals.rawValue)
    }

    /// The caller when it may send signals, else 403 `forbidden` (before any body is read).
    static func requireSender(_ context: AirlockRequestContext) throws -> Principal {
        let caller = try context.requirePrincipal()
        guard maySend(caller) else {
            throw APIError(
                .forbidden, code: "forbidden", message: "signals need an airlock token with the `admin` or `signals` scope")
        }
        return caller
    }

    /// The body's `principal`: a string (any principal id; ``Signals`` checks its length and U+0000).
    static func principal(_ body: RequestBody) throws -> String {
        guard let value = body.fields["principal"], !value.isNull else {
            throw RequestBody.invalid("`principal` is required")
        }
        guard let text = value.stringValue else { throw RequestBody.invalid("`principal` must be a string") }
        return text
    }

    /// A signal as the API shows it, with its status at `now`.
    static func fields(_ signal: ExternalSignal, at now: Date) -> [String: JSONValue] {
        [
            "id": JSONResponse.id(signal.id), "principal": .string(signal.principal), "signal": .string(signal.name),
            "severity": .string(signal.severity.rawValue), "detail": signal.detail.map(JSONValue.string) ?? .null,
            "source": .string(signal.source), "received_at": JSONResponse.time(signal.receivedAt),
            "expires_at": JSONResponse.time(signal.expiresAt), "status": .string(signal.status(at: now).rawValue),
            "withdrawn_at": JSONResponse.time(signal.withdrawnAt),
            "withdrawn_by": signal.withdrawnBy.map(JSONValue.string) ?? .null,
        ]
    }

    private static func text(_ id: UUID) -> String { id.uuidString.lowercased() }
}
