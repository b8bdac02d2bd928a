import AirlockServer
import AirlockTestSupport
import Foundation
import Hummingbird
import HummingbirdTLS
import NIOCore
import NIOSSL
import Synchronization

/// A real https key set server on 127.0.0.1 (certificate for `localhost` from ``TestCertificates``), with routes
/// that misbehave the ways an identity provider or an attacker in its place can:
///
/// - `/jwks`: the document the test sets (``set(_:)``).
/// - `/huge`: 4 MiB of JSON-ish bytes in 64 KiB chunks, without a length.
/// - `/huge-declared`: the same with a `Content-Length` of 4 MiB.
/// - `/drip`: an answer that never ends, one byte every 100 ms.
/// - `/redirect`: 302 to `/jwks`; `/redirect-http`: 302 to `http://localhost:PORT/jwks`.
/// - `/missing`: 404.
final class JWKSTestServer: Sendable {
    private let document = Mutex("{\"keys\":[]}")
    private let requestCount = Mutex(0)

    /// The base URL once running, `https://localhost:PORT`.
    let port: Int

    private init(port: Int) {
        self.port = port
    }

    /// Replaces what `/jwks` serves.
    func set(_ text: String) { document.withLock { $0 = text } }

    /// Requests served so far.
    var requests: Int { requestCount.withLock { $0 } }

    /// `https://localhost:PORT/PATH`.
    func url(_ path: String) -> URL {
        URL(string: "https://localhost:\(port)\(path)")!  // a literal URL: cannot fail
    }

    /// A fetcher that trusts the test authority (and nothing else).
    static func fetcher(deadline: Duration = HTTPJWKSFetcher.defaultDeadline) throws -> HTTPJWKSFetcher {
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.trustRoots = .certificates([
            try NIOSSLCertificate(bytes: Array(TestCertificates.authority.utf8), format: .pem),
        ])
        return HTTPJWKSFetcher(deadline: deadline, tlsConfiguration: tls)
    }

    /// Runs a server for `body`, stopping it afterwards.
    static func with<T: Sendable>(_ body: @Sendable (JWKSTestServer) async throws -> T) async throws -> T {
        let tls = try TLSConfiguration.makeServerConfiguration(
            certificateChain: [.certificate(NIOSSLCertificate(bytes: Array(TestCertificates.serverCertificate.utf8), format: .pem))],
            privateKey: .privateKey(NIOSSLPrivateKey(bytes: Array(TestCertificates.serverKey.utf8), format: .pem)))
        let ports = AsyncStream<Int>.makeStream()
        let box = Mutex<JWKSTestServer?>(nil)
        let router = Router()
        router.get("/jwks") { _, _ in
            let server = box.withLock { $0 }
            server?.requestCount.withLock { $0 += 1 }
            return Response(
                status: .ok, headers: [.contentType: "application/json"],
                body: ResponseBody(byteBuffer: ByteBuffer(string: server?.document.withLock { $0 } ?? "")))
        }
        let chunk = ByteBuffer(repeating: UInt8(ascii: " "), count: 64 << 10)
        router.get("/huge") { _, _ in
            Response(status: .ok, body: ResponseBody { writer in
                for _ in 0..<64 { try await writer.write(chunk) }
                try await writer.finish(nil)
            })
        }
        router.get("/huge-declared") { _, _ in
            Response(status: .ok, body: ResponseBody(contentLength: 64 * (64 << 10)) { writer in
                for _ in 0..<64 { try await writer.write(chunk) }
                try await writer.finish(nil)
            })
        }
        router.get("/drip") { _, _ in
            Response(status: .ok, body: ResponseBody { writer in
                try await writer.write(ByteBuffer(string: "{"))
                for _ in 0..<600 {  // a minute at most, so the server stops by itself
                    try await Task.sleep(for: .milliseconds(100))
                    try await writer.write(ByteBuffer(string: " "))
                }
                try await writer.finish(nil)
            })
        }
        router.get("/redirect") { _, _ in
            Response(status: .found, headers: [.location: "/jwks"])
        }
        router.get("/redirect-http") { _, _ in
            let port = box.withLock { $0?.port } ?? 0
            return Response(status: .found, headers: [.location: "http://localhost:\(port)/jwks"])
        }
        router.get("/missing") { _, _ in Response(status: .notFound) }
        let app = Application(
            router: router, server: try .tls(.http1(), tlsConfiguration: tls),
            configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { channel in
                ports.continuation.yield(channel.localAddress?.port ?? 0)
                ports.continuation.finish()
            })
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await app.runService(gracefulShutdownSignals: []) }
            defer { group.cancelAll() }
            var port = 0
            for await bound in ports.stream { port = bound }
            let server = JWKSTestServer(port: port)
            box.withLock { $0 = server }
            return try await body(server)
        }
    }
}
