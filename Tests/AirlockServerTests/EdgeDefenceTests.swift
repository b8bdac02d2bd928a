@testable import AirlockServer
import AirlockCore
import AirlockPolicy
import AirlockStore
import AirlockTestSupport
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The broker's edge (issue 10, items 15, 16 and 18): the source address behind proxies fails closed, callers are
/// rate limited, idle connections are closed, `/readyz` tells nothing, and only canonical paths are served.
@Suite(.serialized)
struct EdgeDefenceTests {
    // MARK: - Item 15: X-Forwarded-For fails closed

    @Test("behind a trusted proxy, a missing or unparsable X-Forwarded-For gives no source address", arguments: [
        ([], nil), (["unknown"], nil), (["10.1.2.3:5555"], nil), (["[2001:db8::1]:443"], nil), (["10.1.2.3, unknown"], nil),
        (["10.1.2.3,"], nil), (["_hidden"], nil),
        (["10.1.2.3"], "10.1.2.3"), (["203.0.113.5, 127.0.0.9"], "203.0.113.5"), (["unknown, 203.0.113.5"], "203.0.113.5"),
        (["127.0.0.7, 127.0.0.9"], "127.0.0.7"), (["10.1.2.3", "127.0.0.2"], "10.1.2.3"),
    ] as [([String], String?)])
    func forwardedFor(headers: [String], expected: String?) throws {
        let proxies = [try #require(CIDR("127.0.0.0/8"))]
        #expect(SourceAddress.resolve(peer: "127.0.0.1", forwardedFor: headers, trustedProxies: proxies) == expected)
        // An untrusted peer is its own address, whatever it claims.
        #expect(SourceAddress.resolve(peer: "198.51.100.4", forwardedFor: headers, trustedProxies: proxies) == "198.51.100.4")
    }

    @Test("a network guardrail is not satisfied by the trusted proxy's own address", .timeLimit(.minutes(3)))
    func guardrailFailsClosedBehindAProxy() async throws {
        let fixture = try await AccessFlowFixture.make()
        let directory = ServerSupport.writePolicies("""
            forbid "outside" unless request.source_ip in cidr("127.0.0.0/8");
            permit "sre" when "sre" in principal.groups;
            """)
        try FileManager.default.copyItem(
            atPath: fixture.config.settings.policiesDirectory + "/resources.json", toPath: directory + "/resources.json")
        var config = fixture.config
        config.settings.policiesDirectory = directory
        // The test's peer, 127.0.0.1, plays the corporate reverse proxy.
        config.settings.auth.trustedProxies = [try #require(CIDR("127.0.0.0/8"))]
        let app = try buildApplication(config: config)
        let alice = try await fixture.token("alice", groups: ["sre"])
        try await app.test(.live) { client in
            try await ServerSupport.waitUntilReady(client)
            func decide(_ forwardedFor: String?) async throws -> JSONValue {
                var headers: HTTPFields = [.authorization: "Bearer \(alice)", .contentType: "application/json"]
                if let forwardedFor { headers[.forwardedFor] = forwardedFor }
                let response = try await client.execute(
                    uri: "/v1/decisions", method: .post, headers: headers,
                    body: ByteBuffer(string: #"{"resource": "orders-db", "role": "readonly", "ttl_seconds": 60, "reason": "r"}"#))
                return try JSONValue.parse(Data(String(buffer: response.body).utf8))
            }
            for forwardedFor in [nil, "unknown", "127.0.0.5:8080", "203.0.113.5:443", ""] as [String?] {
                let answer = try await decide(forwardedFor)
                #expect(answer["decision"]?["decision"]?.stringValue == "deny", "\(forwardedFor ?? "no header") → \(answer)")
            }
            // A client inside the network, forwarded by the proxy, passes; one outside does not.
            #expect(try await decide("127.0.0.5")["decision"]?["decision"]?.stringValue == "permit")
            #expect(try await decide("203.0.113.5")["decision"]?["decision"]?.stringValue == "deny")
        }
    }

    // MARK: - Item 16: rate limits, idle connections

    @Test("a token bucket takes one per request, refills at its rate, and says how long to wait")
    func tokenBucket() {
        let start = Date(timeIntervalSince1970: 1_800_000_000)
        var bucket = TokenBucket(burst: 2, now: start)
        #expect(bucket.take(rate: 1, burst: 2, now: start) == nil)
        #expect(bucket.take(rate: 1, burst: 2, now: start) == nil)
        #expect(bucket.take(rate: 1, burst: 2, now: start) == 1)
        #expect(bucket.take(rate: 1, burst: 2, now: start.addingTimeInterval(0.25)) == 0.75)
        #expect(bucket.take(rate: 1, burst: 2, now: start.addingTimeInterval(1)) == nil)
        // A clock that goes back refills nothing.
        #expect(bucket.take(rate: 1, burst: 2, now: start) == 1)
        #expect(!bucket.isFull(rate: 1, burst: 2, now: start.addingTimeInterval(2)))
        #expect(bucket.isFull(rate: 1, burst: 2, now: start.addingTimeInterval(3)))
    }

    @Test("the limiter keeps at most its capacity of keys and forgets full buckets first")
    func limiterIsBounded() {
        let clock = TestClock()
        let limiter = RateLimiter(limit: RateLimit(rate: 1, burst: 1), clock: clock, capacity: 3)
        #expect(limiter.admit("a") == nil)
        #expect(limiter.admit("a") == 1)
        #expect(limiter.admit("b") == nil)
        #expect(limiter.admit("c") == nil)
        clock.advance(1)  // every bucket is full again: all may be forgotten
        #expect(limiter.admit("d") == nil)
        #expect(limiter.count <= 3)
        #expect(RateLimiter(limit: .off, clock: clock).admit("x") == nil)
    }

    @Test("per source address: 429 rate_limited with Retry-After, before the token is looked up; health is exempt",
          .timeLimit(.minutes(2)))
    func perAddressLimit() async throws {
        let fixture = try await TokenRoutesFixture.make()
        var config = fixture.config
        let clock = TestClock()
        config.rateLimitClock = clock
        config.settings.addressRateLimit = RateLimit(rate: 1, burst: 2)
        config.settings.principalRateLimit = .off
        let app = try buildApplication(config: config)
        let madeUp = ApiTokenFormat.generate(prefix: .airlock)
        try await app.test(.live) { client in
            try await ServerSupport.waitUntilReady(client)
            #expect(try await client.call(.get, "/v1/tokens", token: madeUp).status == .unauthorized)
            #expect(try await client.call(.get, "/v1/tokens", token: fixture.adminToken).status == .ok)
            let limited = try await client.execute(
                uri: "/v1/tokens", method: .get, headers: [.authorization: "Bearer \(fixture.adminToken)"])
            #expect(limited.status == .tooManyRequests)
            #expect(limited.headers[.retryAfter] == "1")
            #expect(try ServerSupport.errorBody(limited).code == "rate_limited")
            for path in ["/healthz", "/readyz", "/metrics"] {
                #expect(try await client.execute(uri: path, method: .get).status == .ok, "\(path)")
            }
            clock.advance(1)
            #expect(try await client.call(.get, "/v1/tokens", token: fixture.adminToken).status == .ok)
            #expect(try await client.call(.get, "/v1/tokens", token: fixture.adminToken).status == .tooManyRequests)
        }
    }

    @Test("per principal: one caller is limited, another is not", .timeLimit(.minutes(2)))
    func perPrincipalLimit() async throws {
        let fixture = try await TokenRoutesFixture.make()
        var config = fixture.config
        let clock = TestClock()
        config.rateLimitClock = clock
        config.settings.addressRateLimit = .off
        config.settings.principalRateLimit = RateLimit(rate: 1, burst: 1)
        let app = try buildApplication(config: config)
        let other = try await TestDatabase.withExisting(fixture.databaseURL) { database in
            try await ApiTokenStore(database: database, auditLog: AuditLog(source: "urn:airlock"))
                .create(name: "other-admin", scopes: ["admin"], actor: "test", logger: TestDatabase.logger).token
        }
        try await app.test(.live) { client in
            try await ServerSupport.waitUntilReady(client)
            #expect(try await client.call(.get, "/v1/tokens", token: fixture.adminToken).status == .ok)
            let limited = try await client.call(.get, "/v1/tokens", token: fixture.adminToken)
            #expect(limited.status == .tooManyRequests)
            #expect(limited.json["error"]?["code"]?.stringValue == "rate_limited")
            #expect(try await client.call(.get, "/v1/tokens", token: other).status == .ok)
            clock.advance(1)
            #expect(try await client.call(.get, "/v1/tokens", token: fixture.adminToken).status == .ok)
        }
    }

    @Test("an idle connection, or one that never finishes its request head, is closed", .timeLimit(.minutes(2)))
    func idleConnectionsAreClosed() async throws {
        var config = try ServerSupport.configuration(url: try ServerSupport.unreachableURL())
        config.settings.idleTimeout = .milliseconds(300)
        let app = try buildApplication(config: config)
        try await app.test(.live) { client in
            let port = try #require(client.port)
            #expect(try Self.closedByServer(port: port, sending: ""), "an idle connection stayed open")
            #expect(try Self.closedByServer(port: port, sending: "GET /healthz HTTP/1.1\r\nHost: x\r\n"),
                    "a connection that never finished its request head stayed open")
        }
    }

    /// Connects to 127.0.0.1:`port`, sends `text`, and reads until the server closes; false when it has not within
    /// 10 s (a bound, not a measurement: the server is told to close after 0.3 s).
    static func closedByServer(port: Int, sending text: String) throws -> Bool {
        let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard socket >= 0 else { throw POSIXFailure("socket") }
        defer { close(socket) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard connected == 0 else { throw POSIXFailure("connect") }
        var timeout = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(socket, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        if !text.isEmpty { _ = text.withCString { send(socket, $0, strlen($0), 0) } }
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = recv(socket, &buffer, buffer.count, 0)
            if count == 0 { return true }  // orderly close
            if count < 0 { return errno == ECONNRESET }  // reset: closed too; a timeout: still open
        }
    }

    struct POSIXFailure: Error {
        let call: String
        init(_ call: String) { self.call = call }
    }

    // MARK: - Item 18: /readyz says nothing; only canonical paths

    @Test("/readyz answers a bare not_ready: the database error goes only to the log", .timeLimit(.minutes(2)))
    func readyzTellsNothing() async throws {
        let url = try ServerSupport.unreachableURL()
        var config = try ServerSupport.configuration(url: url)
        let logs = CapturedLogs()
        config.logger = logs.logger()
        let app = try buildApplication(config: config)
        try await app.test(.live) { client in
            // Once the check has failed (the log names where it tried), /readyz still tells nothing.
            for _ in 0..<200 where !logs.text.contains("127.0.0.1:\(url.port)") {
                try await Task.sleep(for: .milliseconds(50))
            }
            #expect(logs.text.contains("127.0.0.1:\(url.port)"), "the monitor never logged the failure")
            let response = try await client.execute(uri: "/readyz", method: .get)
            #expect(response.status == .serviceUnavailable)
            let error = try ServerSupport.errorBody(response)
            #expect(error.code == "not_ready")
            #expect(error.message == "not ready")
            let body = String(buffer: response.body)
            for leak in ["127.0.0.1", "\(url.port)", url.username, url.database, "database", "refused"] {
                #expect(!body.contains(leak), "/readyz shows `\(leak)`: \(body)")
            }
        }
    }

    @Test("a path that is not canonical is 404 before authentication, whatever the router would make of it",
          .timeLimit(.minutes(2)))
    func nonCanonicalPaths() async throws {
        let fixture = try await TokenRoutesFixture.make()
        let app = try buildApplication(config: fixture.config)
        try await app.test(.live) { client in
            try await ServerSupport.waitUntilReady(client)
            #expect(try await client.call(.get, "/v1/tokens", token: fixture.adminToken).status == .ok)
            for path in ["/v1//tokens", "//v1/tokens", "/v1/tokens/", "/v1/./tokens", "/v1/x/../tokens", "//v1//dev//jwks.json",
                         "/v1/dev/jwks.json/", "//healthz"] {
                for token in [fixture.adminToken, nil] as [String?] {
                    let answer = try await client.call(.get, path, token: token)
                    #expect(answer.status == .notFound, "\(path) with\(token == nil ? "out" : "") a token → \(answer)")
                    #expect(answer.json["error"]?["code"]?.stringValue == "not_found", "\(path) → \(answer)")
                }
            }
        }
    }

    @Test("the authentication decision is made on the path as the router sees it")
    func authenticationOnTheRoutedPath() {
        let exempt = AuthenticationMiddleware<AirlockRequestContext>.defaultExemptPaths
        for path in ["/v1/tokens", "//v1/tokens", "/v1//tokens", "/v1", "//v1", "/v1//dev/jwks.json/x"] {
            #expect(AuthenticationMiddleware<AirlockRequestContext>.needsAuthentication(path: path, exempt: exempt), "\(path)")
        }
        for path in ["/healthz", "/v1/dev/jwks.json", "/v10/x"] {
            #expect(!AuthenticationMiddleware<AirlockRequestContext>.needsAuthentication(path: path, exempt: exempt), "\(path)")
        }
        // The fast path for paths already in routed form gives what splitting and joining gives (issue 13).
        for path in ["", "/", "//", "/v1", "/v1/", "v1/tokens", "/v1/tokens", "//v1/tokens", "/v1//tokens", "/v1/tokens/",
                     "/v1/dev/jwks.json/", "/a/b/c", "/a//", "///"] {
            let slow = "/" + path.split(separator: "/", omittingEmptySubsequences: true).joined(separator: "/")
            #expect(AuthenticationMiddleware<AirlockRequestContext>.routerPath(path) == slow, "\(path)")
        }
        for path in ["/", "/v1", "/v1/tokens", "/v1/tokens/abc", "/v1/principals/repo%3Aorg%2Fapp/revoke-all"] {
            #expect(CanonicalPathMiddleware<AirlockRequestContext>.isCanonical(path), "\(path)")
        }
        for path in ["", "v1/tokens", "//", "/v1/", "/v1//tokens", "/./v1", "/v1/.."] {
            #expect(!CanonicalPathMiddleware<AirlockRequestContext>.isCanonical(path), "\(path)")
        }
    }
}
