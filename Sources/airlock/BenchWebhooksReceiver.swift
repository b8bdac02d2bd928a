import AirlockCore
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import Synchronization

/// The receiver `airlock bench webhooks` delivers to: a Hummingbird server on 127.0.0.1 that verifies each delivery's
/// Standard Webhooks signature (as a real receiver must; a forged or unsigned one is refused and counted) and
/// records when each event first arrived.
final class BenchWebhooksReceiver: Sendable {
    let port: Int
    private let state = Mutex<State>(State())

    private struct State {
        var secret: WebhookSecret?
        /// First arrival of each `webhook-id`.
        var arrivals: [String: ContinuousClock.Instant] = [:]
        var deliveries = 0
        var refused = 0
        var busy = false
    }

    private init(port: Int) { self.port = port }

    var url: String { "http://127.0.0.1:\(port)/hook" }
    func expect(secret: WebhookSecret) { state.withLock { $0.secret = secret } }
    /// Distinct events received.
    var distinct: Int { state.withLock { $0.arrivals.count } }
    /// Deliveries accepted, duplicates included.
    var deliveries: Int { state.withLock { $0.deliveries } }
    /// Deliveries refused for a bad signature.
    var refused: Int { state.withLock { $0.refused } }
    /// When the event `id` first arrived.
    func arrival(of id: String) -> ContinuousClock.Instant? { state.withLock { $0.arrivals[id] } }
    /// The last first-arrival.
    var lastArrival: ContinuousClock.Instant? { state.withLock { $0.arrivals.values.max() } }
    func reset() { state.withLock { $0.arrivals = [:] } }
    /// While busy, every delivery is answered `503` with `Retry-After: 3600`: the endpoint backs off for an hour,
    /// and its events are queued in the outbox without being posted.
    func setBusy(_ busy: Bool) { state.withLock { $0.busy = busy } }

    private func handle(_ request: Request) async throws -> Response {
        let arrived = ContinuousClock.now
        let body = Array(try await request.body.collect(upTo: 1 << 20).readableBytesView)
        let id = request.headers[Self.id] ?? ""
        let timestamp = Int64(request.headers[Self.timestamp] ?? "") ?? 0
        let signature = request.headers[Self.signature] ?? ""
        if state.withLock({ $0.busy }) {
            return Response(status: .serviceUnavailable, headers: [.retryAfter: "3600"])
        }
        let accepted = state.withLock { state -> Bool in
            guard let secret = state.secret,
                  WebhookSignature.verify(header: signature, id: id, timestamp: timestamp, body: body, secret: secret)
            else {
                state.refused += 1
                return false
            }
            state.deliveries += 1
            if state.arrivals[id] == nil { state.arrivals[id] = arrived }
            return true
        }
        return Response(status: accepted ? .noContent : .unauthorized)
    }

    private static let id = HTTPField.Name("webhook-id")!
    private static let timestamp = HTTPField.Name("webhook-timestamp")!
    private static let signature = HTTPField.Name("webhook-signature")!

    /// Runs a receiver on a free loopback port for `body`, stopping it afterwards.
    static func with<T: Sendable>(_ body: @Sendable (BenchWebhooksReceiver) async throws -> T) async throws -> T {
        let ports = AsyncStream<Int>.makeStream()
        let box = Mutex<BenchWebhooksReceiver?>(nil)
        let router = Router()
        router.post("/hook") { request, _ in
            guard let receiver = box.withLock({ $0 }) else { return Response(status: .serviceUnavailable) }
            return try await receiver.handle(request)
        }
        var quiet = Logger(label: "airlock-bench-receiver")
        quiet.logLevel = .critical  // its shutdown at the end of the run is not news
        let app = Application(
            router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { channel in
                ports.continuation.yield(channel.localAddress?.port ?? 0)
                ports.continuation.finish()
            }, logger: quiet)
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await app.runService(gracefulShutdownSignals: []) }
            defer { group.cancelAll() }
            var port = 0
            for await bound in ports.stream { port = bound }
            let receiver = BenchWebhooksReceiver(port: port)
            box.withLock { $0 = receiver }
            return try await body(receiver)
        }
    }
}
