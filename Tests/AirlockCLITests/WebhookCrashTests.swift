import AirlockCore
import AirlockStore
import AirlockTestSupport
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import Synchronization
import Testing

/// Issue 14: a broker SIGKILLed while it delivers webhooks loses nothing. The outbox rows commit with their events,
/// so after a restart every event reaches the receiver, each signature valid, in order; the only duplicates are
/// deliveries the dead broker had sent but not yet recorded (its last 25 ms), under the same `webhook-id`; and the
/// dead broker's claim on the endpoint is taken over as soon as its heartbeats stop, not when the claim lapses.
@Suite(.serialized)
struct WebhookCrashTests {
    @Test("the broker SIGKILLed during delivery: after a restart nothing is missing", .timeLimit(.minutes(4)))
    func killedDuringDelivery() async throws {
        let setup = try await CrashSetup.make()
        let loopback = ["AIRLOCK_WEBHOOKS_ALLOW_LOOPBACK": "true"]
        let created = try await AirlockBinary.run(
            ["token", "create", "--database-url", setup.broker.testURLString, "--scope", "admin", "--name", "hooks"],
            environment: ["AIRLOCK_MASTER_KEY": CrashSetup.masterKey, "AIRLOCK_POLICIES_DIR": setup.policies])
        let admin = created.output.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(created.status == 0 && admin.hasPrefix("alk_"), "\(created.errors)")
        let total = 400

        try await SlowReceiver.with { receiver in
            let first = try await setup.startBroker(environment: loopback)
            defer { first.stop() }
            let added = try await first.call(
                "POST", "/v1/webhooks", token: admin,
                body: #"{"url": "\#(receiver.url)", "event_types": ["airlock.test."]}"#)
            let secret = try WebhookSecret(parsing: try #require(added["secret"] as? String, "\(added)"))
            receiver.expect(secret: secret)

            // Events written as any writer does: the outbox rows commit with them.
            try await TestDatabase.withExisting(setup.broker) { database in
                let log = AuditLog(source: "airlock-crash-test")
                for batch in stride(from: 0, to: total, by: 50) {
                    try await database.client.withTransaction(logger: TestDatabase.logger) { connection in
                        for number in batch..<(batch + 50) {
                            try await log.append(
                                NewAuditEvent(type: "airlock.test.delivery", subject: "e\(number)",
                                              data: ["number": .int(Int64(number))]),
                                on: connection, logger: TestDatabase.logger)
                        }
                    }
                }
            }
            // Killed mid-stream: some delivered, most not; one delivery may be on the wire.
            let deadline = ContinuousClock.now + .seconds(60)
            while receiver.uniqueCount < 40, ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(20))
            }
            first.signal(SIGKILL)
            _ = try await first.process.wait(upTo: .seconds(10))
            let before = receiver.uniqueCount
            #expect(before >= 40 && before < total, "delivered \(before) before the kill")

            let second = try await setup.startBroker(environment: loopback)
            defer { second.stop() }
            let end = ContinuousClock.now + .seconds(120)
            while receiver.uniqueCount < total, ContinuousClock.now < end {
                try await Task.sleep(for: .milliseconds(100))
            }
            #expect(receiver.uniqueCount == total, "delivered \(receiver.uniqueCount) of \(total) after the restart")
            #expect(receiver.forged == 0, "\(receiver.forged) deliveries failed signature verification")

            // In order; a duplicate is the same event under the same id.
            var seen: [String: [UInt8]] = [:]
            var last: Int64 = 0
            var numbers = Set<Int64>()
            for delivery in receiver.received {
                let event = try #require(try? JSONValue.parse(Data(delivery.body)))
                #expect(event["id"]?.stringValue == delivery.id)
                if let earlier = seen[delivery.id] {
                    #expect(earlier == delivery.body, "a duplicate with another body")
                    continue
                }
                seen[delivery.id] = delivery.body
                let sequence = try #require(event["sequence"]?.intValue)
                #expect(sequence > last, "out of order: \(sequence) after \(last)")
                last = sequence
                if let number = event["data"]?["number"]?.intValue { numbers.insert(number) }
            }
            #expect(numbers == Set((0..<total).map { Int64($0) }))
            // Deliveries are recorded every 25 ms: only what went out in the last moments before the kill comes twice.
            #expect(receiver.received.count - total <= 20, "\(receiver.received.count - total) duplicates")
            var recorded: Int64 = 0
            for _ in 0..<100 where recorded != Int64(total) {
                recorded = try await setup.broker.one(
                    "SELECT count(*)::int8 FROM webhook_deliveries WHERE status = 'delivered'", as: Int64.self) ?? 0
                if recorded != Int64(total) { try await Task.sleep(for: .milliseconds(100)) }
            }
            #expect(recorded == Int64(total))
        }
    }
}

/// A webhook receiver on 127.0.0.1 that takes 5 ms per delivery (so a kill lands mid-stream) and verifies each
/// Standard Webhooks signature with the endpoint's secret; unsigned or forged deliveries are refused and counted.
final class SlowReceiver: Sendable {
    struct Delivery: Sendable {
        let id: String
        let body: [UInt8]
    }

    let port: Int
    private let state = Mutex<(received: [Delivery], ids: Set<String>, forged: Int, secret: WebhookSecret?)>(
        ([], [], 0, nil))

    private init(port: Int) { self.port = port }

    var url: String { "http://127.0.0.1:\(port)/hook" }
    var received: [Delivery] { state.withLock { $0.received } }
    var uniqueCount: Int { state.withLock { $0.ids.count } }
    var forged: Int { state.withLock { $0.forged } }
    func expect(secret: WebhookSecret) { state.withLock { $0.secret = secret } }

    private func handle(_ request: Request) async throws -> Response {
        let body = Array(try await request.body.collect(upTo: 1 << 20).readableBytesView)
        let id = request.headers[HTTPField.Name("webhook-id")!] ?? ""
        let timestamp = Int64(request.headers[HTTPField.Name("webhook-timestamp")!] ?? "") ?? 0
        let signature = request.headers[HTTPField.Name("webhook-signature")!] ?? ""
        try await Task.sleep(for: .milliseconds(5))
        guard let secret = state.withLock({ $0.secret }),
              WebhookSignature.verify(header: signature, id: id, timestamp: timestamp, body: body, secret: secret)
        else {
            state.withLock { $0.forged += 1 }
            return Response(status: .unauthorized)
        }
        state.withLock {
            $0.received.append(Delivery(id: id, body: body))
            $0.ids.insert(id)
        }
        return Response(status: .noContent)
    }

    static func with<T: Sendable>(_ body: @Sendable (SlowReceiver) async throws -> T) async throws -> T {
        let ports = AsyncStream<Int>.makeStream()
        let box = Mutex<SlowReceiver?>(nil)
        let router = Router()
        router.post("/hook") { request, _ in
            guard let receiver = box.withLock({ $0 }) else { return Response(status: .serviceUnavailable) }
            return try await receiver.handle(request)
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
            let receiver = SlowReceiver(port: port)
            box.withLock { $0 = receiver }
            return try await body(receiver)
        }
    }
}
