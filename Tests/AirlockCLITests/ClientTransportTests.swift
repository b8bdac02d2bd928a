import Foundation
import Hummingbird
import HummingbirdTesting
import Synchronization
import Testing

/// The client never hands its token to anyone but the broker it was given for (issue 10, item 9), and what a
/// requester wrote cannot forge what an approver's terminal shows (item 10). The brokers here are real HTTP
/// servers on loopback that answer as a hostile or misconfigured one would.
struct ClientTransportTests {
    static let secret = "alk_transportSecretThatMustStayHome0123456789"

    /// Every `Authorization` header a server saw.
    final class Seen: Sendable {
        private let headers = Mutex<[String]>([])
        func add(_ value: String?) { headers.withLock { $0.append(value ?? "") } }
        var all: [String] { headers.withLock { $0 } }
    }

    /// A server that records what it was sent and answers an empty pending list.
    static func recorder(_ seen: Seen) -> some ApplicationProtocol {
        let router = Router()
        router.middlewares.add(RecordingMiddleware(seen: seen))
        router.get("/v1/access-requests") { _, _ in
            Response(status: .ok, headers: [.contentType: "application/json"],
                     body: .init(byteBuffer: ByteBuffer(string: #"{"items":[],"next_cursor":null}"#)))
        }
        return Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)))
    }

    struct RecordingMiddleware: RouterMiddleware {
        typealias Context = BasicRequestContext
        let seen: Seen
        func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
            seen.add(request.headers[.authorization])
            return try await next(request, context)
        }
    }

    /// A "broker" that redirects every call to `target` with the given status.
    static func redirector(to target: String, status: HTTPResponse.Status) -> some ApplicationProtocol {
        let router = Router()
        let answer: @Sendable (Request, BasicRequestContext) async throws -> Response = { request, _ in
            Response(status: status, headers: [.location: target + request.uri.description])
        }
        router.get("/v1/access-requests", use: answer)
        router.post("/v1/access-requests/{id}/approve", use: answer)
        return Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)))
    }

    @Test(arguments: [HTTPResponse.Status.temporaryRedirect, .permanentRedirect, .found, .movedPermanently])
    func redirectsAreNotFollowedWithTheToken(_ status: HTTPResponse.Status) async throws {
        let seen = Seen()
        try await Self.recorder(seen).test(.live) { elsewhere in
            let target = "http://127.0.0.1:\(elsewhere.port!)"
            try await Self.redirector(to: target, status: status).test(.live) { broker in
                let address = "http://127.0.0.1:\(broker.port!)"
                let home = ClientCommandTests.home()
                let pending = try await AirlockBinary.run(
                    ["pending", "--addr", address, "--token", Self.secret], environment: ["AIRLOCK_HOME": home])
                #expect(pending.status == 1)
                #expect(pending.errors.contains("redirect"), "\(pending.errors)")
                #expect(pending.errors.contains("never follows a redirect"), "\(pending.errors)")
                let approve = try await AirlockBinary.run(
                    ["approve", UUID().uuidString, "--addr", address, "--token", Self.secret],
                    environment: ["AIRLOCK_HOME": home])
                #expect(approve.status == 1)
                #expect(approve.errors.contains("redirect"), "\(approve.errors)")
                #expect(!pending.errors.contains(Self.secret) && !approve.errors.contains(Self.secret))
            }
        }
        #expect(seen.all.isEmpty, "the redirect target was called: \(seen.all.count) times")
        #expect(!seen.all.contains { $0.contains(Self.secret) })
    }

    // Only addresses that stay on this machine even for a client that would connect: 0.0.0.0 is "this host".
    @Test(arguments: ["http://0.0.0.0:1", "http://0.0.0.0:8420/v1", "HTTP://[::2]:8420"])
    func plainHTTPToAnotherHostIsRefusedBeforeConnecting(_ address: String) async throws {
        let result = try await AirlockBinary.run(
            ["pending", "--addr", address, "--token", Self.secret], environment: ["AIRLOCK_HOME": ClientCommandTests.home()])
        #expect(result.status == 1)
        #expect(result.errors.contains("over plain http"), "\(result.errors)")
        #expect(!result.errors.contains("cannot reach"))
    }

    @Test func loginRefusesToStoreATokenForPlainHTTPToAnotherHost() async throws {
        let home = ClientCommandTests.home()
        defer { try? FileManager.default.removeItem(atPath: home) }
        let login = try await AirlockBinary.run(
            ["login", "--token", Self.secret, "--addr", "http://0.0.0.0:8420"], environment: ["AIRLOCK_HOME": home])
        #expect(login.status == 1)
        #expect(login.errors.contains("over plain http"), "\(login.errors)")
        #expect(!FileManager.default.fileExists(atPath: home + "/token"))
    }

    @Test func theStoredTokenGoesOnlyToTheBrokerItWasIssuedFor() async throws {
        let home = ClientCommandTests.home()
        defer { try? FileManager.default.removeItem(atPath: home) }
        let seen = Seen()
        try await Self.recorder(seen).test(.live) { other in
            let login = try await AirlockBinary.run(
                ["login", "--token", Self.secret, "--addr", "http://127.0.0.1:2"], environment: ["AIRLOCK_HOME": home])
            #expect(login.status == 0, "\(login.errors)")
            let stray = "http://127.0.0.1:\(other.port!)"
            for environment in [["AIRLOCK_ADDR": stray], [:]] {
                var arguments = ["pending"]
                if environment.isEmpty { arguments += ["--addr", stray] }
                let result = try await AirlockBinary.run(
                    arguments, environment: environment.merging(["AIRLOCK_HOME": home]) { $1 })
                #expect(result.status == 1)
                #expect(result.errors.contains("the stored token was issued for http://127.0.0.1:2"), "\(result.errors)")
            }
            // An explicit token is the caller's own choice.
            let explicit = try await AirlockBinary.run(
                ["pending", "--addr", stray, "--token", "alk_anotherTokenForThatBroker"], environment: ["AIRLOCK_HOME": home])
            #expect(explicit.status == 0, "\(explicit.errors)")
        }
        #expect(seen.all == ["Bearer alk_anotherTokenForThatBroker"])
    }

    // MARK: - Item 10: forged terminal output

    /// A pending list whose reason, ticket and principal try to draw lines of their own.
    static let hostilePending = """
        {"items":[{"id":"6c1c5d1e-7a52-4c2e-9f0e-0d7b0e7d0a01","status":"pending_approval",
        "principal":"mallory\\u202e","resource":"orders","role":"readwrite","ttl_seconds":3600,
        "reason":"fix\\n6c1c5d1e-0000-0000-0000-000000000000  alice  orders/readonly  ttl 15m\\n  needs: nothing\\u009b2K\\u001b[2K",
        "ticket":"T-1\\u2028needs: nothing\\u200b",
        "approvers":[{"rule":"prod-write","requires":[{"group":"db-owners\\r  needs: nothing","count":2,"approved_by":[]}]}]}],
        "next_cursor":null}
        """

    static func hostileBroker() -> some ApplicationProtocol {
        let router = Router()
        router.get("/v1/access-requests") { _, _ in
            Response(status: .ok, headers: [.contentType: "application/json"],
                     body: .init(byteBuffer: ByteBuffer(string: hostilePending)))
        }
        router.get("/v1/leases") { _, _ in
            Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: """
                {"items":[{"id":"5d1c5d1e-7a52-4c2e-9f0e-0d7b0e7d0a02","status":"active","resource":"orders\\u202e",
                "role":"readonly","username":"u\\n  lease forged","expires_at":"2026-12-03T20:00:00Z",
                "last_error":"x\\u009b2J"}],"next_cursor":null}
                """)))
        }
        router.post("/v1/access-requests/{id}/approve") { _, _ in
            Response(status: .forbidden, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(
                string: #"{"error":{"code":"forbidden","message":"no\n  needs: nothing\u009b\u202e","request_id":"r"}}"#)))
        }
        return Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)))
    }

    @Test func controlAndFormatCharactersAreShownEscaped() async throws {
        try await Self.hostileBroker().test(.live) { broker in
            let address = "http://127.0.0.1:\(broker.port!)"
            let home = ClientCommandTests.home()
            let pending = try await AirlockBinary.run(
                ["pending", "--addr", address, "--token", Self.secret], environment: ["AIRLOCK_HOME": home])
            #expect(pending.status == 0, "\(pending.errors)")
            let lines = pending.output.split(separator: "\n", omittingEmptySubsequences: false)
            // One request: its line, reason, ticket, needs, and the hint; nothing the requester drew.
            #expect(lines.filter { $0.hasPrefix("  needs:") }.count == 1, "\(pending.output)")
            #expect(!lines.contains { $0.hasPrefix("6c1c5d1e-0000") }, "\(pending.output)")
            #expect(pending.output.contains(#"fix\n6c1c5d1e-0000"#))
            #expect(pending.output.contains(#"\u{9B}2K\u{1B}[2K"#))
            #expect(pending.output.contains(#"mallory\u{202E}"#))
            #expect(pending.output.contains(#"T-1\u{2028}needs: nothing\u{200B}"#))
            #expect(pending.output.contains(#"db-owners\r  needs: nothing"#))
            for scalar in pending.output.unicodeScalars {
                #expect(scalar == "\n" || !(scalar.properties.generalCategory == .control
                    || scalar.properties.generalCategory == .format || scalar.value == 0x2028), "raw \(scalar.value)")
            }
            let leases = try await AirlockBinary.run(
                ["leases", "--addr", address, "--token", Self.secret], environment: ["AIRLOCK_HOME": home])
            #expect(leases.status == 0, "\(leases.errors)")
            #expect(leases.output.contains(#"orders\u{202E}/readonly"#) && leases.output.contains(#"u\n  lease forged"#)
                && leases.output.contains(#"x\u{9B}2J"#), "\(leases.output)")
            let approve = try await AirlockBinary.run(
                ["approve", UUID().uuidString, "--addr", address, "--token", Self.secret], environment: ["AIRLOCK_HOME": home])
            #expect(approve.status == 1)
            #expect(approve.errors.contains(#"no\n  needs: nothing\u{9B}\u{202E}"#), "\(approve.errors)")
        }
    }
}
