import AirlockCore
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import Synchronization

/// A real webhook receiver on 127.0.0.1 that verifies every delivery's Standard Webhooks signature with the
/// endpoint's secret, and can be told to misbehave: answer 503 (down), 410 (gone), or never answer (hang).
final class WebhookReceiver: Sendable {
    enum Mode: Sendable, Equatable {
        case up
        case down(retryAfterSeconds: Int?)
        case gone
        case hang
    }

    struct Delivery: Sendable {
        let id: String
        let timestamp: Int64
        let signature: String
        let body: [UInt8]
        let contentType: String?
        /// The body parsed (nil when not JSON).
        var event: JSONValue? { try? JSONValue.parse(Data(body)) }
    }

    let port: Int
    /// The receiver's time, for the signature's timestamp check (the broker's test clock when a test moves it).
    private let clock = Mutex<any WallClock>(SystemWallClock())
    private let state = Mutex<(mode: Mode, received: [Delivery], refused: Int, secret: WebhookSecret?)>(
        (.up, [], 0, nil))

    private init(port: Int) { self.port = port }

    var url: String { "http://127.0.0.1:\(port)/hook" }
    var mode: Mode {
        get { state.withLock { $0.mode } }
        set { state.withLock { $0.mode = newValue } }
    }
    /// The secret signatures must verify with (set once the endpoint is added).
    func expect(secret: WebhookSecret) { state.withLock { $0.secret = secret } }
    /// Judges timestamps by `clock` (a test that moves the broker's clock moves the receiver's too).
    func use(clock: any WallClock) { self.clock.withLock { $0 = clock } }
    /// Deliveries accepted (2xx), in arrival order.
    var received: [Delivery] { state.withLock { $0.received } }
    /// Requests answered with an error (down, gone).
    var refused: Int { state.withLock { $0.refused } }

    private func handle(_ request: Request) async throws -> Response {
        let body = try await request.body.collect(upTo: 1 << 20)
        let delivery = Delivery(
            id: request.headers[HTTPField.Name("webhook-id")!] ?? "",
            timestamp: Int64(request.headers[HTTPField.Name("webhook-timestamp")!] ?? "") ?? 0,
            signature: request.headers[HTTPField.Name("webhook-signature")!] ?? "",
            body: Array(body.readableBytesView), contentType: request.headers[.contentType])
        let mode = self.mode
        switch mode {
        case .hang:
            try await Task.sleep(for: .seconds(600))
            return Response(status: .ok)
        case .gone:
            state.withLock { $0.refused += 1 }
            return Response(status: .gone)
        case .down(let retryAfter):
            state.withLock { $0.refused += 1 }
            var headers = HTTPFields()
            if let retryAfter { headers[.retryAfter] = String(retryAfter) }
            return Response(status: .serviceUnavailable, headers: headers)
        case .up:
            guard let secret = state.withLock({ $0.secret }),
                  WebhookSignature.verify(
                    header: delivery.signature, id: delivery.id, timestamp: delivery.timestamp, body: delivery.body,
                    secret: secret, now: clock.withLock { $0.now() })
            else {
                // A forged or unsigned delivery: refused like a receiver following the spec would.
                return Response(status: .unauthorized)
            }
            state.withLock { $0.received.append(delivery) }
            return Response(status: .noContent)
        }
    }

    /// Runs a receiver for `body`, stopping it afterwards.
    static func with<T: Sendable>(_ body: @Sendable (WebhookReceiver) async throws -> T) async throws -> T {
        let ports = AsyncStream<Int>.makeStream()
        let box = Mutex<WebhookReceiver?>(nil)
        let router = Router()
        router.post("/hook") { request, _ in
            guard let receiver = box.withLock({ $0 }) else { return Response(status: .serviceUnavailable) }
            return try await receiver.handle(request)
        }
        // Misbehaving receivers: a redirect (to the real hook: it must not be followed), an endless answer.
        router.post("/redirect") { _, _ in
            Response(status: .temporaryRedirect, headers: [.location: "/hook"])
        }
        let chunk = ByteBuffer(repeating: UInt8(ascii: " "), count: 64 << 10)
        router.post("/huge") { _, _ in
            Response(status: .ok, body: ResponseBody { writer in
                for _ in 0..<256 { try await writer.write(chunk) }  // 16 MiB
                try await writer.finish(nil)
            })
        }
        let app = Application(
            router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { channel in
                ports.continuation.yield(channel.localAddress?.port ?? 0)
                ports.continuation.finish()
            })
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await app.runService(gracefulShutdownSignals: []) }
            defer { group.cancelAll() }
            var port = 0
            for await bound in ports.stream { port = bound }
            let receiver = WebhookReceiver(port: port)
            box.withLock { $0 = receiver }
            return try await body(receiver)
        }
    }
}
