@testable import AirlockServer
import AirlockCore
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing

/// A known path asked with a method it does not serve is 405 `method_not_allowed` with `Allow`; unknown paths stay
/// 404 and served methods are untouched.
@Suite("405 with Allow for known paths", .timeLimit(.minutes(2)))
struct MethodNotAllowedTests {
    static let trace = HTTPRequest.Method("TRACE")!
    static let query = HTTPRequest.Method("QUERY")!

    /// A router shaped like the broker's (a literal beside a parameter, nested paths), with the request id
    /// middleware in front and the 405 middleware after the last route, as `buildApplication` adds it.
    static func application() -> some ApplicationProtocol {
        let router = Router(context: BasicRequestContext.self)
        router.add(middleware: RequestIDMiddleware())
        router.get("healthz") { _, _ in "ok" }
        router.post("v1/tokens") { _, _ in HTTPResponse.Status.created }
        router.get("v1/tokens") { _, _ in "list" }
        router.delete("v1/tokens/:id") { _, _ in HTTPResponse.Status.noContent }
        router.post("v1/tokens/introspect") { _, _ in "introspect" }
        router.get("v1/leases/:id") { _, _ -> String in
            throw APIError(.notFound, code: "not_found", message: "no such lease")
        }
        router.post("v1/leases/:id/renew") { _, _ in "renewed" }
        router.add(middleware: MethodNotAllowedMiddleware(router: router))
        return Application(router: router)
    }

    static func errorCode(_ response: TestResponse) throws -> String? {
        let object = try JSONValue.parse(Data(response.body.readableBytesView)).objectValue
        return object?["error"]?.objectValue?["code"]?.stringValue
    }

    @Test("an undeclared method on a known path is 405 with Allow, the error body and a request id")
    func undeclaredMethod() async throws {
        try await Self.application().test(.router) { client in
            let response = try await client.execute(uri: "/healthz", method: Self.trace)
            #expect(response.status == .methodNotAllowed)
            #expect(response.headers[.allow] == "GET")
            #expect(response.headers[.contentType] == "application/json")
            #expect(try Self.errorCode(response) == "method_not_allowed")
            let requestID = try #require(response.headers[HTTPField.Name("X-Request-Id")!])
            let body = try JSONValue.parse(Data(response.body.readableBytesView))
            #expect(body.objectValue?["error"]?.objectValue?["request_id"]?.stringValue == requestID)

            for method: HTTPRequest.Method in [.put, .patch, .options, Self.query] {
                let tokens = try await client.execute(uri: "/v1/tokens", method: method)
                #expect(tokens.status == .methodNotAllowed, "\(method)")
                #expect(tokens.headers[.allow] == "GET, POST", "\(method)")
            }
        }
    }

    @Test("paths with parameters: the literal route wins over the parameter, as the router resolves them")
    func parameters() async throws {
        try await Self.application().test(.router) { client in
            let id = UUID().uuidString.lowercased()
            let renew = try await client.execute(uri: "/v1/leases/\(id)/renew", method: .get)
            #expect(renew.status == .methodNotAllowed)
            #expect(renew.headers[.allow] == "POST")
            let lease = try await client.execute(uri: "/v1/leases/\(id)/", method: .delete)
            #expect(lease.status == .methodNotAllowed)
            #expect(lease.headers[.allow] == "GET")
            let token = try await client.execute(uri: "/v1/tokens/\(id)", method: .get)
            #expect(token.headers[.allow] == "DELETE")
            let introspect = try await client.execute(uri: "/v1/tokens/introspect", method: .get)
            #expect(introspect.status == .methodNotAllowed)
            #expect(introspect.headers[.allow] == "POST")
        }
    }

    @Test("unknown paths stay 404, served methods answer as before, a route's own 404 is not turned into 405")
    func untouched() async throws {
        try await Self.application().test(.router) { client in
            for uri in ["/nowhere", "/v1", "/v1/tokens/a/b", "/v1/leases", "/healthz/more"] {
                let response = try await client.execute(uri: uri, method: .get)
                #expect(response.status == .notFound, "\(uri)")
                #expect(response.headers[.allow] == nil, "\(uri)")
                #expect(try Self.errorCode(response) == "not_found", "\(uri)")
            }
            #expect(try await client.execute(uri: "/healthz", method: .get).status == .ok)
            #expect(try await client.execute(uri: "/v1/tokens", method: .post).status == .created)
            #expect(try await client.execute(uri: "/v1/tokens/introspect", method: .post).status == .ok)
            let missing = try await client.execute(uri: "/v1/leases/\(UUID().uuidString)", method: .get)
            #expect(missing.status == .notFound)
            #expect(missing.headers[.allow] == nil)
        }
    }

    @Test("the broker answers 405 with Allow, after authentication on /v1 paths")
    func broker() async throws {
        let fixture = try await TokenRoutesFixture.make()
        let app = try buildApplication(config: fixture.config)
        try await app.test(.live) { client in
            let health = try await client.execute(uri: "/healthz", method: Self.trace)
            #expect(health.status == .methodNotAllowed)
            #expect(health.headers[.allow] == "GET")
            #expect(try Self.errorCode(health) == "method_not_allowed")

            let anonymous = try await client.execute(uri: "/v1/tokens", method: .put)
            #expect(anonymous.status == .unauthorized)
            #expect(try Self.errorCode(anonymous) == "missing_token")

            let bearer: HTTPFields = [.authorization: "Bearer \(fixture.adminToken)"]
            let tokens = try await client.execute(uri: "/v1/tokens", method: .put, headers: bearer)
            #expect(tokens.status == .methodNotAllowed)
            #expect(tokens.headers[.allow] == "GET, POST")
            let request = try await client.execute(
                uri: "/v1/access-requests/\(UUID().uuidString.lowercased())", method: .delete, headers: bearer)
            #expect(request.status == .methodNotAllowed)
            #expect(request.headers[.allow] == "GET")
            let unknown = try await client.execute(uri: "/v1/nowhere", method: .put, headers: bearer)
            #expect(unknown.status == .notFound)
        }
    }
}
