import AirlockAgent
import AirlockCore
import AirlockTestSupport
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Synchronization
import Testing

/// The agent's calls to the broker, against hostile answers on loopback: a redirect is never followed (the token
/// would go with it), an answer too large or not sealed is refused, and errors never carry the token.
@Suite
struct AgentBrokerTests {
    /// Every `Authorization` header a server received.
    final class Seen: Sendable {
        let headers = Mutex<[String]>([])
    }

    static let credential = AgentConfiguration.Credential(
        name: "orders", resource: "orders-db", role: "readonly", ttlSeconds: 600, reason: "test",
        environmentPrefix: "", outputs: [], onChange: nil)

    @Test("a redirect to another server is not followed, and that server never sees the token")
    func redirectNotFollowed() async throws {
        let seen = Seen()
        let elsewhere = Router()
        elsewhere.post("v1/credentials") { request, _ -> Response in
            seen.headers.withLock { $0.append(request.headers[.authorization] ?? "none") }
            return Response(status: .ok)
        }
        try await Application(router: elsewhere).test(.live) { other in
            let otherPort = try #require(other.port)
            let router = Router()
            router.post("v1/credentials") { _, _ -> Response in
                Response(status: .temporaryRedirect, headers: [.location: "http://127.0.0.1:\(otherPort)/v1/credentials"])
            }
            try await Application(router: router).test(.live) { broker in
                let token = "alk_redirectMustNotCarryThis123"
                let client = AgentBroker(
                    address: try BrokerAddress("http://127.0.0.1:\(try #require(broker.port))"),
                    authentication: .tokenEnvironment("T"), environment: ["T": token])
                defer { Task { await client.shutdown() } }
                do {
                    _ = try await client.issue(Self.credential)
                    Issue.record("issued through a redirect")
                } catch {
                    #expect(String(describing: error).contains("redirect") && !String(describing: error).contains(token), "\(error)")
                }
                #expect(seen.headers.withLock { $0 }.isEmpty, "the other server was reached")
            }
        }
    }

    @Test("an answer that is not sealed, or larger than 64 KiB, is refused without the secret in the error")
    func hostileAnswers() async throws {
        let router = Router()
        router.post("v1/credentials") { _, _ -> Response in
            let body = #"{"kind": "postgres", "username": "u", "password": "plain-secret-in-clear", "lease_id": "0f8fad5b-d9cb-469f-a165-70867728950e", "expires_at": "2030-01-01T00:00:00Z"}"#
            return Response(status: .created, headers: [.contentType: "application/json"],
                            body: .init(byteBuffer: ByteBuffer(string: body)))
        }
        router.post("v1/leases/:id/renew") { _, _ -> Response in
            Response(status: .ok, headers: [.contentType: "application/json"],
                     body: .init(byteBuffer: ByteBuffer(string: #"{"pad": ""# + String(repeating: "a", count: 70_000) + #""}"#)))
        }
        try await Application(router: router).test(.live) { broker in
            let client = AgentBroker(
                address: try BrokerAddress("http://127.0.0.1:\(try #require(broker.port))"),
                authentication: .tokenEnvironment("T"), environment: ["T": "alk_x"])
            defer { Task { await client.shutdown() } }
            do {
                _ = try await client.issue(Self.credential)
                Issue.record("accepted a credential sent in clear")
            } catch {
                #expect(String(describing: error).contains("did not seal") && !String(describing: error).contains("plain-secret"), "\(error)")
            }
            do {
                _ = try await client.renew(UUID(), ttlSeconds: 60)
                Issue.record("accepted an answer over 64 KiB")
            } catch {
                #expect(String(describing: error) == "the broker's answer is larger than 64 KiB (answer_too_large)")
            }
        }
    }

    @Test("a token file that holds no token, or none at all, is an authentication failure naming the file, not a call")
    func missingToken() async throws {
        let directory = try TemporaryDirectory()
        let empty = try directory.write("token", "  \n")
        for path in [empty, directory.url.appendingPathComponent("absent").path] {
            let client = AgentBroker(address: try BrokerAddress("http://127.0.0.1:1"), authentication: .tokenFile(path))
            do {
                _ = try await client.renew(UUID(), ttlSeconds: 60)
                Issue.record("called without a token")
            } catch {
                guard case .unauthorized(let text) = error else {
                    Issue.record("not unauthorized: \(error)")
                    continue
                }
                #expect(text.contains(path))
            }
            await client.shutdown()
        }
    }
}
