import AirlockCore
import AirlockServer
import AirlockStore
import AirlockTestSupport
import Foundation
import Hummingbird
import HummingbirdTesting
import Testing

/// The request context of the test router.
struct PrincipalContext: AuthenticatedRequestContext {
    var coreContext: CoreRequestContextStorage
    var principal: Principal?

    init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        principal = nil
    }
}

/// Renders thrown ``APIError``s as the API's error body (the real server's error middleware does this).
struct ErrorBodyMiddleware: RouterMiddleware {
    func handle(
        _ request: Request, context: PrincipalContext, next: (Request, PrincipalContext) async throws -> Response
    ) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as APIError {
            let body = #"{"error":{"code":"\#(error.code)","message":"\#(error.message)"}}"#
            return Response(status: error.status, body: .init(byteBuffer: ByteBuffer(string: body)))
        }
    }
}

@Suite("Authentication middleware", .timeLimit(.minutes(2)))
struct AuthenticationMiddlewareTests {
    func router(_ authenticator: Authenticator) -> Router<PrincipalContext> {
        let router = Router(context: PrincipalContext.self)
        router.add(middleware: ErrorBodyMiddleware())
        router.add(middleware: AuthenticationMiddleware(authenticator: authenticator))
        router.get("/healthz") { _, _ in "ok" }
        router.get("/v1/dev/jwks.json") { _, _ in "{}" }
        router.get("/v1/whoami") { _, context in try context.requirePrincipal().id }
        return router
    }

    @Test func routesUnderV1NeedAToken() async throws {
        let fixture = try AuthFixture()
        let token = try await fixture.sign()
        let app = Application(router: router(fixture.authenticator))
        try await app.test(.router) { client in
            try await client.execute(uri: "/healthz", method: .get) { #expect($0.status == .ok) }
            try await client.execute(uri: "/v1/dev/jwks.json", method: .get) { #expect($0.status == .ok) }
            try await client.execute(uri: "/v1/whoami", method: .get) { response in
                #expect(response.status == .unauthorized)
                #expect(String(buffer: response.body).contains("missing_token"))
            }
            try await client.execute(uri: "/v1/whoami", method: .get, headers: [.authorization: "Bearer " + token]) {
                #expect($0.status == .ok)
                #expect(String(buffer: $0.body) == "alice")
            }
            let forged = token.dropLast(4) + "AAAA"
            try await client.execute(
                uri: "/v1/whoami", method: .get, headers: [.authorization: "Bearer " + forged]
            ) { response in
                let body = String(buffer: response.body)
                #expect(response.status == .unauthorized)
                #expect(body.contains("invalid_signature") || body.contains("malformed_token"))
                #expect(!body.contains(String(forged)))
            }
            var twice = HTTPFields()
            twice[values: .authorization] = ["Bearer " + token, "Bearer " + token]
            try await client.execute(uri: "/v1/whoami", method: .get, headers: twice) { response in
                #expect(response.status == .unauthorized)
                #expect(String(buffer: response.body).contains("malformed_token"))
            }
        }
    }

    @Test func airlockTokensThroughTheAuthenticator() async throws {
        try await TestDatabase.withDatabase { database in
            let clock = TestClock()
            let logs = CapturedLogs()
            let store = ApiTokenStore(database: database, auditLog: AuditLog(source: "urn:test", clock: clock), clock: clock)
            let authenticator = try Authenticator(
                configuration: AuthConfiguration(), tokens: store, clock: clock, fetcher: FakeFetcher(),
                logger: logs.logger())
            let logger = TestDatabase.logger
            let (id, token) = try await store.create(
                name: "deployer", scopes: ["service"], groups: ["ci"], ttl: 600, logger: logger)
            let principal = try await authenticator.authenticate(authorizationHeader: "Bearer " + token)
            #expect(principal == Principal(
                id: "token:deployer", kind: .service, groups: ["ci"], scopes: ["service"],
                credential: .apiToken(audience: nil)))

            func code(_ token: String) async -> String? {
                do {
                    _ = try await authenticator.authenticate(authorizationHeader: "Bearer " + token)
                    return nil
                } catch {
                    #expect(!error.message.contains(token))
                    return error.code
                }
            }
            #expect(await code(ApiTokenFormat.generate(prefix: .airlock)) == "unknown_token")
            let (_, expiring) = try await store.create(name: "", scopes: ["admin"], ttl: 60, logger: logger)
            clock.advance(61)
            #expect(await code(expiring) == "token_expired")
            try await store.revoke(id: id, logger: logger)
            #expect(await code(token) == "token_revoked")
            #expect(!logs.text.contains(token))
            #expect(!logs.text.contains(expiring))
        }
    }
}
