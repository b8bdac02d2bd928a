import AirlockCore
import AirlockServer
import AirlockStore
import AirlockTestSupport
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing

/// Delivery end to end (issue 14): the real broker, its outbox and dispatcher, and real receivers on loopback that
/// verify every signature.
@Suite(.serialized)
struct WebhookDeliveryTests {
    /// A broker that may post to loopback receivers (as `airlock dev` does).
    static func broker() async throws -> (TokenRoutesFixture, ServerConfiguration) {
        let fixture = try await TokenRoutesFixture.make()
        var config = fixture.config
        config.settings.webhookAddresses.allowsLoopback = true
        return (fixture, config)
    }

    /// Adds an endpoint for `receiver` receiving `types`, and tells the receiver its secret.
    static func add(
        _ receiver: WebhookReceiver, types: [String], client: some TestClientProtocol, token: String
    ) async throws -> String {
        let body = JSONValue.object([
            "url": .string(receiver.url), "event_types": .array(types.map { .string($0) }),
        ])
        let added = try await client.call(.post, "/v1/webhooks", token: token, body: body.description)
        #expect(added.status == .created, "\(added.json)")
        receiver.expect(secret: try WebhookSecret(parsing: try #require(added.json["secret"]?.stringValue)))
        return try #require(added.json["id"]?.stringValue)
    }

    /// Appends `count` events of type `airlock.test.delivery` straight to the audit log, 50 per transaction.
    static func append(_ count: Int, at url: DatabaseURL, source: String) async throws {
        try await TestDatabase.withExisting(url) { database in
            let log = AuditLog(source: source)
            var index = 0
            while index < count {
                let range = index..<min(count, index + 50)
                try await database.client.withTransaction(logger: TestDatabase.logger) { connection in
                    for number in range {
                        try await log.append(
                            NewAuditEvent(type: "airlock.test.delivery", subject: "e\(number)",
                                          data: ["number": .int(Int64(number))]),
                            on: connection, logger: TestDatabase.logger)
                    }
                }
                index = range.upperBound
            }
        }
    }

    /// Waits up to `seconds` for `condition`.
    static func eventually(_ seconds: Double, _ condition: () async throws -> Bool) async throws -> Bool {
        let deadline = ContinuousClock.now + .seconds(seconds)
        while ContinuousClock.now < deadline {
            if try await condition() { return true }
            try await Task.sleep(for: .milliseconds(50))
        }
        return try await condition()
    }

    @Test("1,000 events reach a receiver that was down for part of the run: all delivered, signed, in order, no duplicates under another id",
          .timeLimit(.minutes(3)))
    func downThenUp() async throws {
        let (fixture, config) = try await Self.broker()
        let app = try buildApplication(config: config)
        try await WebhookReceiver.with { receiver in
            try await app.test(.live) { client in
                try await ServerSupport.waitUntilReady(client)
                _ = try await Self.add(receiver, types: ["airlock.test."], client: client, token: fixture.adminToken)
                receiver.mode = .down(retryAfterSeconds: nil)
                try await Self.append(1000, at: fixture.databaseURL, source: config.settings.auditSource)
                #expect(try await Self.eventually(20) { receiver.refused > 0 }, "the receiver was never tried")
                receiver.mode = .up
                let all = try await Self.eventually(90) { Set(receiver.received.map(\.id)).count >= 1000 }
                #expect(all, "delivered \(Set(receiver.received.map(\.id)).count) of 1000")

                let received = receiver.received
                var seen: [String: [UInt8]] = [:]
                var lastSequence: Int64 = 0
                for delivery in received {
                    let event = try #require(delivery.event)
                    #expect(event["id"]?.stringValue == delivery.id, "the CloudEvents id is not the webhook-id")
                    #expect(event["type"]?.stringValue == "airlock.test.delivery")
                    #expect(delivery.contentType?.hasPrefix("application/cloudevents+json") == true)
                    let sequence = try #require(event["sequence"]?.intValue)
                    if let earlier = seen[delivery.id] {
                        #expect(earlier == delivery.body, "a duplicate with another body")  // at least once, same event
                    } else {
                        #expect(sequence > lastSequence, "out of order: \(sequence) after \(lastSequence)")
                        lastSequence = sequence
                    }
                    seen[delivery.id] = delivery.body
                    #expect(event["hash"]?.stringValue?.count == 64 && event["prevhash"]?.stringValue?.count == 64)
                }
                var numbers = Set<Int64>()
                for delivery in received {
                    if let number = delivery.event?["data"]?["number"]?.intValue { numbers.insert(number) }
                }
                let expected = Set((0..<1000).map { Int64($0) })
                #expect(numbers == expected, "\(numbers.count) numbers, \(numbers.subtracting(expected).sorted().prefix(5)) unexpected, \(expected.subtracting(numbers).sorted().prefix(5)) missing")
                // Every delivery row is recorded delivered (just after its answer); none pending or dead.
                var counts: [String: Int64] = [:]
                let recorded = try await Self.eventually(20) {
                    counts = try await TestDatabase.withExisting(fixture.databaseURL) { database in
                        let rows = try await database.client.query(
                            "SELECT status, count(*)::int8 FROM webhook_deliveries GROUP BY status",
                            logger: TestDatabase.logger)
                        var counts: [String: Int64] = [:]
                        for try await (status, count) in rows.decode((String, Int64).self) { counts[status] = count }
                        return counts
                    }
                    return counts == ["delivered": 1000]
                }
                #expect(recorded, "\(counts)")
            }
        }
    }

    @Test("410 Gone disables the endpoint, audited with severity high; a second endpoint is unaffected",
          .timeLimit(.minutes(2)))
    func goneDisables() async throws {
        let (fixture, config) = try await Self.broker()
        let app = try buildApplication(config: config)
        try await WebhookReceiver.with { gone in
            try await WebhookReceiver.with { healthy in
                try await app.test(.live) { client in
                    try await ServerSupport.waitUntilReady(client)
                    let goneID = try await Self.add(gone, types: ["airlock.test."], client: client, token: fixture.adminToken)
                    _ = try await Self.add(healthy, types: ["airlock.test."], client: client, token: fixture.adminToken)
                    gone.mode = .gone
                    try await Self.append(5, at: fixture.databaseURL, source: config.settings.auditSource)
                    #expect(try await Self.eventually(20) { healthy.received.count == 5 })
                    #expect(try await Self.eventually(20) {
                        let listing = try await client.call(.get, "/v1/webhooks", token: fixture.adminToken)
                        let endpoint = listing.json["items"]?.arrayValue?.first { $0["id"]?.stringValue == goneID }
                        return endpoint?["status"]?.stringValue == "disabled"
                    })
                    #expect(gone.refused == 1, "a disabled endpoint was called again")
                    try await Self.append(3, at: fixture.databaseURL, source: config.settings.auditSource)
                    #expect(try await Self.eventually(20) { healthy.received.count == 8 })
                    #expect(gone.refused == 1)
                }
            }
        }
        let events = try await fixture.auditEvents()
        let disabled = try #require(events.first { $0.contains(#""type":"airlock.webhook.disabled""#) })
        #expect(disabled.contains(#""severity":"high""#) && disabled.contains("410"))
        #expect(disabled.contains(#""channels":["security"]"#))
    }

    @Test("a receiver that never answers holds up neither another endpoint nor the request API",
          .timeLimit(.minutes(2)))
    func hangingReceiverIsolated() async throws {
        let (fixture, config) = try await Self.broker()
        let app = try buildApplication(config: config)
        try await WebhookReceiver.with { hanging in
            try await WebhookReceiver.with { healthy in
                try await app.test(.live) { client in
                    try await ServerSupport.waitUntilReady(client)
                    _ = try await Self.add(hanging, types: ["airlock.test."], client: client, token: fixture.adminToken)
                    _ = try await Self.add(healthy, types: ["airlock.test."], client: client, token: fixture.adminToken)
                    hanging.mode = .hang
                    try await Self.append(20, at: fixture.databaseURL, source: config.settings.auditSource)
                    #expect(try await Self.eventually(8) { healthy.received.count == 20 },
                            "the healthy endpoint got \(healthy.received.count) of 20 while the other hangs")
                    // Requests while a delivery hangs (its attempt lasts up to the transport's 10 s): each is
                    // answered without waiting for it (no delivery is on a request's path).
                    var slowest = Duration.zero
                    for _ in 0..<20 {
                        let started = ContinuousClock.now
                        let answer = try await client.call(.get, "/v1/webhooks", token: fixture.adminToken)
                        #expect(answer.status == .ok)
                        slowest = max(slowest, ContinuousClock.now - started)
                    }
                    #expect(slowest < .seconds(2), "a request waited \(slowest) while a receiver hangs")
                    #expect(hanging.received.isEmpty)
                }
            }
        }
    }

    @Test("after three days of failures an event is dead-lettered and alerted; a replay delivers it, with its webhook-id",
          .timeLimit(.minutes(2)))
    func deadLetterAndReplay() async throws {
        let (fixture, config) = try await Self.broker()
        let app = try buildApplication(config: config)
        try await WebhookReceiver.with { receiver in
            try await WebhookReceiver.with { security in
                try await app.test(.live) { client in
                    try await ServerSupport.waitUntilReady(client)
                    let id = try await Self.add(receiver, types: ["airlock.test."], client: client, token: fixture.adminToken)
                    _ = try await Self.add(
                        security, types: ["airlock.webhook.dead_lettered"], client: client, token: fixture.adminToken)
                    receiver.mode = .down(retryAfterSeconds: nil)
                    receiver.use(clock: fixture.clock)
                    security.use(clock: fixture.clock)
                    try await Self.append(3, at: fixture.databaseURL, source: config.settings.auditSource)
                    #expect(try await Self.eventually(20) { receiver.refused >= 1 })
                    // Three days later (the broker's clock), the next attempt fails too: the events are dead letters.
                    fixture.clock.advance(3 * 24 * 3600 + 3600)
                    let alerted = try await Self.eventually(30) { security.received.count == 1 }
                    #expect(alerted, "no dead-letter alert reached the security endpoint")
                    let alert = try #require(security.received.first?.event)
                    #expect(alert["data"]?["severity"]?.stringValue == "high")
                    #expect(alert["data"]?["channels"] == .array([.string("security")]))
                    #expect(alert["data"]?["count"]?.intValue == 3 && alert["data"]?["webhook_id"]?.stringValue == id)

                    receiver.mode = .up
                    let replayed = try await client.call(
                        .post, "/v1/webhooks/\(id)/replay", token: fixture.adminToken, body: #"{"dead_letters": true}"#)
                    #expect(replayed.status == .ok && replayed.json["queued"]?.intValue == 3, "\(replayed.json)")
                    #expect(try await Self.eventually(30) { receiver.received.count == 3 })
                    let sequences = receiver.received.compactMap { $0.event?["sequence"]?.intValue }
                    #expect(sequences == sequences.sorted() && sequences.count == 3)

                    // A replay by sequence delivers the same events again, under the same ids.
                    let first = try #require(sequences.first)
                    let again = try await client.call(
                        .post, "/v1/webhooks/\(id)/replay", token: fixture.adminToken,
                        body: #"{"from_sequence": \#(first)}"#)
                    #expect(again.json["queued"]?.intValue == 3, "\(again.json)")
                    // At least once: on a loaded machine an attempt that timed out is sent again, so count ids.
                    #expect(try await Self.eventually(30) {
                        Dictionary(grouping: receiver.received, by: \.id).values.filter { $0.count >= 2 }.count == 3
                    }, "\(receiver.received.map(\.id))")
                    #expect(Set(receiver.received.map(\.id)).count == 3)

                    // The test event reaches this endpoint alone, whatever its filters.
                    let test = try await client.call(.post, "/v1/webhooks/\(id)/test", token: fixture.adminToken)
                    #expect(test.status == .accepted)
                    #expect(try await Self.eventually(30) {
                        receiver.received.last?.id == test.json["event_id"]?.stringValue
                    })
                    #expect(security.received.count == 1)

                    let bad = try await client.call(
                        .post, "/v1/webhooks/\(id)/replay", token: fixture.adminToken,
                        body: #"{"dead_letters": true, "from_sequence": 1}"#)
                    #expect(bad.status == .unprocessableContent)
                }
            }
        }
    }

    @Test("an event an endpoint waits for is chained and delivered at once, not at the chainer's next pass",
          .timeLimit(.minutes(2)))
    func deliveredWithoutWaitingForAPass() async throws {
        let (fixture, base) = try await Self.broker()
        var slow = base
        slow.settings.auditChainInterval = .seconds(60)  // a pass a minute: only the outbox's notification is quick
        let config = slow
        let app = try buildApplication(config: config)
        try await WebhookReceiver.with { receiver in
            try await app.test(.live) { client in
                try await ServerSupport.waitUntilReady(client)
                _ = try await Self.add(receiver, types: ["airlock.test."], client: client, token: fixture.adminToken)
                try await Task.sleep(for: .milliseconds(500))  // past the pass at start-up
                for round in 1...3 {
                    let started = ContinuousClock.now
                    try await Self.append(1, at: fixture.databaseURL, source: config.settings.auditSource)
                    #expect(try await Self.eventually(10) { receiver.received.count == round })
                    #expect(started.duration(to: .now) < .seconds(10))
                }
            }
        }
    }

    @Test("a rotated secret signs beside the old one for its window, then alone; neither is logged or audited",
          .timeLimit(.minutes(2)))
    func rotationWindow() async throws {
        let (fixture, config) = try await Self.broker()
        let app = try buildApplication(config: config)
        try await WebhookReceiver.with { receiver in
            try await app.test(.live) { client in
                try await ServerSupport.waitUntilReady(client)
                receiver.use(clock: fixture.clock)
                let added = try await client.call(
                    .post, "/v1/webhooks", token: fixture.adminToken, body: #"{"url": "\#(receiver.url)"}"#)
                let id = try #require(added.json["id"]?.stringValue)
                let first = try WebhookSecret(parsing: try #require(added.json["secret"]?.stringValue))
                receiver.expect(secret: first)

                /// Sends a test event and waits for it; its signature header.
                func delivered() async throws -> ReceivedSignature {
                    let test = try await client.call(.post, "/v1/webhooks/\(id)/test", token: fixture.adminToken)
                    let event = try #require(test.json["event_id"]?.stringValue)
                    #expect(try await Self.eventually(30) { receiver.received.contains { $0.id == event } })
                    return ReceivedSignature(try #require(receiver.received.first { $0.id == event }), now: fixture.clock.now())
                }

                // Rotating: the receiver still holding the old secret keeps verifying; both signatures are sent.
                let rotated = try await client.call(
                    .post, "/v1/webhooks/\(id)/rotate", token: fixture.adminToken, body: #"{"window_seconds": 3600}"#)
                #expect(rotated.status == .ok, "\(rotated.json)")
                let second = try WebhookSecret(parsing: try #require(rotated.json["secret"]?.stringValue))
                #expect(rotated.json["rotation_ends_at"]?.stringValue != nil)
                let during = try await delivered()
                #expect(during.signatures == 2 && during.verifies(first) && during.verifies(second))

                // Rotating again inside the window: the newest two keys sign, never the first.
                let again = try await client.call(.post, "/v1/webhooks/\(id)/rotate", token: fixture.adminToken)
                let third = try WebhookSecret(parsing: try #require(again.json["secret"]?.stringValue))
                receiver.expect(secret: third)
                let twice = try await delivered()
                #expect(twice.signatures == 2 && twice.verifies(second) && twice.verifies(third) && !twice.verifies(first))

                // After the window (the broker's clock: a day is the default), the newest key signs alone.
                fixture.clock.advance(24 * 3600 + 60)
                let after = try await delivered()
                #expect(after.signatures == 1 && after.verifies(third) && !after.verifies(second))

                // A zero window drops the old key at once.
                let now = try await client.call(
                    .post, "/v1/webhooks/\(id)/rotate", token: fixture.adminToken, body: #"{"window_seconds": 0}"#)
                let fourth = try WebhookSecret(parsing: try #require(now.json["secret"]?.stringValue))
                #expect(now.json["rotation_ends_at"] == nil)
                receiver.expect(secret: fourth)
                let cut = try await delivered()
                #expect(cut.signatures == 1 && cut.verifies(fourth) && !cut.verifies(third))

                // Hostile rotations change nothing.
                for (target, body, status) in [
                    (id, #"{"window_seconds": -1}"#, HTTPResponse.Status.unprocessableContent),
                    (id, #"{"window_seconds": 604801}"#, .unprocessableContent),
                    (id, #"{"window": 60}"#, .badRequest),
                    (UUID().uuidString, "{}", .notFound),
                ] {
                    let answer = try await client.call(
                        .post, "/v1/webhooks/\(target)/rotate", token: fixture.adminToken, body: body)
                    #expect(answer.status == status, "\(body): \(answer.json)")
                }
                let auditor = try await client.call(
                    .post, "/v1/tokens", token: fixture.adminToken, body: #"{"name": "audit", "scopes": ["auditor"]}"#)
                let auditorToken = try #require(auditor.json["token"]?.stringValue)
                let refused = try await client.call(.post, "/v1/webhooks/\(id)/rotate", token: auditorToken)
                #expect(refused.status == .forbidden)

                let secrets = [first, second, third, fourth].map(\.text)
                let events = try await fixture.auditEvents()
                #expect(events.filter { $0.contains("airlock.webhook.rotated") }.count == 3)
                for secret in secrets {
                    let key = String(secret.dropFirst("whsec_".count))
                    #expect(!events.contains { $0.contains(key) }, "a secret reached the audit log")
                    #expect(!fixture.logs.all.contains { $0.contains(key) }, "a secret reached the log")
                }
            }
        }
    }
}

/// A delivered `webhook-signature` header, checked against secrets one at a time.
struct ReceivedSignature {
    let delivery: WebhookReceiver.Delivery
    let now: Date

    init(_ delivery: WebhookReceiver.Delivery, now: Date) {
        self.delivery = delivery
        self.now = now
    }

    /// How many signatures the header carries.
    var signatures: Int { delivery.signature.split(separator: " ").count }

    func verifies(_ secret: WebhookSecret) -> Bool {
        WebhookSignature.verify(
            header: delivery.signature, id: delivery.id, timestamp: delivery.timestamp, body: delivery.body,
            secret: secret, now: now)
    }
}
