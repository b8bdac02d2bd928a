import AirlockCore
import AirlockStore
import Foundation
import Logging
import NIOHTTP1
import Synchronization

/// The three measurements of `airlock bench webhooks`, against a running dev environment and a local receiver.
struct BenchWebhooksRun: Sendable {
    struct Plan: Sendable {
        let events: Int
        let writers: Int
        let rate: Int
        let seconds: Double
        let issuanceRequests: Int
        let issuanceConcurrency: Int
        let rounds: Int
    }

    let environment: BenchIssuanceEnvironment
    let receiver: BenchWebhooksReceiver
    let plan: Plan

    /// The events the benchmark writes, and the endpoints it adds, select.
    static let eventType = "airlock.bench.delivery"
    static let source = "airlock-bench"

    func measure() async throws -> BenchWebhooksReport {
        let brokerURL = try environment.adminURL(DemoData.brokerDatabase)
        let admin = try await Database.withDatabase(brokerURL, logger: environment.logger) { database in
            try await ApiTokenStore(database: database, auditLog: AuditLog(source: Self.source)).create(
                name: "bench-webhooks", scopes: ["admin"], actor: "airlock bench", logger: environment.logger).token
        }
        let benchEndpoint = try await addEndpoint(token: admin, types: ["airlock.bench."])
        benchNote("throughput: \(plan.events) events on \(plan.writers) connections")
        let throughput = try await Database.withDatabase(brokerURL, logger: environment.logger) { database in
            try await throughputRun(database)
        }
        benchNote("latency: \(plan.rate) events/s for \(plan.seconds) s")
        let latency = try await Database.withDatabase(brokerURL, logger: environment.logger) { database in
            try await latencyRun(database)
        }
        try await removeEndpoint(benchEndpoint, token: admin)
        var issuance = BenchWebhooksReport.Issuance()
        if plan.issuanceRequests > 0 {
            issuance = try await issuanceRuns(token: admin)
        }
        return BenchWebhooksReport(
            plan: plan, throughput: throughput, latency: latency, issuance: issuance, refused: receiver.refused)
    }

    // MARK: Throughput

    private func throughputRun(_ database: Database) async throws -> BenchWebhooksReport.Throughput {
        receiver.reset()
        let log = AuditLog(source: Self.source)
        let logger = environment.logger
        let started = ContinuousClock.now
        let writers = plan.writers, events = plan.events
        try await withThrowingTaskGroup(of: Void.self) { group in
            for writer in 0..<writers {
                let numbers = Array(stride(from: writer, to: events, by: writers))
                group.addTask {
                    for chunk in stride(from: 0, to: numbers.count, by: 50) {
                        try await database.client.withTransaction(logger: logger) { connection in
                            for number in numbers[chunk..<min(numbers.count, chunk + 50)] {
                                try await log.append(Self.event(number, run: "throughput"), on: connection, logger: logger)
                            }
                        }
                    }
                }
            }
            try await group.waitForAll()
        }
        let written = ContinuousClock.now
        try await waitForReceipts(events, upTo: .seconds(60 + Double(events) / 500))
        let last = receiver.lastArrival ?? .now
        return BenchWebhooksReport.Throughput(
            events: events, writeSeconds: started.duration(to: written).seconds,
            endToEndSeconds: started.duration(to: last).seconds, deliveries: receiver.deliveries)
    }

    // MARK: Latency

    private func latencyRun(_ database: Database) async throws -> BenchWebhooksReport.Latency {
        receiver.reset()
        let log = AuditLog(source: Self.source)
        let logger = environment.logger
        let count = max(1, Int(Double(plan.rate) * plan.seconds))
        let spacing = Duration.seconds(1) / plan.rate
        // Four paced writers, each committing every fourth event at its due time (one slow commit does not hold up
        // the schedule).
        let writers = 4
        let started = ContinuousClock.now
        let commits = try await withThrowingTaskGroup(of: [(String, ContinuousClock.Instant)].self) { group in
            for writer in 0..<writers {
                group.addTask {
                    var commits: [(String, ContinuousClock.Instant)] = []
                    for number in stride(from: writer, to: count, by: writers) {
                        let due = started + spacing * number
                        if due > .now { try await Task.sleep(until: due, clock: .continuous) }
                        let id = try await database.client.withTransaction(logger: logger) { connection in
                            try await log.append(Self.event(number, run: "latency"), on: connection, logger: logger)
                        }
                        commits.append((id.uuidString.lowercased(), .now))
                    }
                    return commits
                }
            }
            var all: [(String, ContinuousClock.Instant)] = []
            for try await part in group { all += part }
            return all
        }
        let achieved = Double(count) / started.duration(to: .now).seconds
        try await waitForReceipts(count, upTo: .seconds(60))
        var lags: [Double] = []
        for (id, committed) in commits {
            if let arrived = receiver.arrival(of: id) { lags.append(committed.duration(to: arrived).milliseconds) }
        }
        lags.sort()
        return BenchWebhooksReport.Latency(events: count, achievedRate: achieved, lags: lags)
    }

    // MARK: Cost to issuance

    /// Alternates issuance without an endpoint and with one receiving every event, after a warm-up round.
    private func issuanceRuns(token: String) async throws -> BenchWebhooksReport.Issuance {
        var result = BenchWebhooksReport.Issuance()
        benchNote("issuance: warm-up")
        _ = try await issue("warm")
        for round in 0..<plan.rounds {
            benchNote("issuance round \(round + 1) of \(plan.rounds): without an endpoint")
            result.without.append(try await issue("off-\(round)").perSecond)

            // The outbox alone: the receiver answers 503 Retry-After 3600 to the first delivery, so the endpoint
            // backs off and every later event of the round is queued (trigger, delivery row, chain order) unposted.
            receiver.setBusy(true)
            let queued = try await addEndpoint(token: token, types: [])
            benchNote("issuance round \(round + 1) of \(plan.rounds): with an endpoint, its events queued")
            result.queued.append(try await issue("queued-\(round)").perSecond)
            try await removeEndpoint(queued, token: token)
            receiver.setBusy(false)

            let endpoint = try await addEndpoint(token: token, types: [])
            receiver.reset()
            benchNote("issuance round \(round + 1) of \(plan.rounds): with an endpoint receiving every event")
            let with = try await issue("on-\(round)")
            result.with.append(with.perSecond)
            // Each credential records at least its request and issue events: wait for the endpoint to drain.
            let drained = ContinuousClock.now
            try await waitForReceipts(with.latencies.count * 2, upTo: .seconds(60))
            result.drainSeconds.append(drained.duration(to: .now).seconds)
            try await removeEndpoint(endpoint, token: token)
        }
        return result
    }

    private func issue(_ tag: String) async throws -> BenchIssuanceResult {
        try await BenchIssuanceAirlock.run(
            environment, requests: plan.issuanceRequests, concurrency: plan.issuanceConcurrency, verify: 0,
            tag: "wh-\(tag)", flow: .oneCall)
    }

    // MARK: Helpers

    static func event(_ number: Int, run: String) -> NewAuditEvent {
        NewAuditEvent(
            type: eventType, subject: "bench-\(number)", data: ["number": .int(Int64(number)), "run": .string(run)])
    }

    private func addEndpoint(token: String, types: [String]) async throws -> String {
        let body: JSONValue = .object(["url": .string(receiver.url), "event_types": .array(types.map { .string($0) })])
        let reply = try await BenchIssuanceHTTP.withConnection(port: environment.port) { connection in
            try await connection.send(.POST, "/v1/webhooks", token: token, body: body)
        }
        guard reply.status == 201, let id = reply.json["id"]?.stringValue,
              let secret = reply.json["secret"]?.stringValue else {
            throw BenchIssuanceError("adding the webhook endpoint failed: HTTP \(reply.status) \(reply.json["error"] ?? .null)")
        }
        receiver.expect(secret: try WebhookSecret(parsing: secret))
        return id
    }

    private func removeEndpoint(_ id: String, token: String) async throws {
        let reply = try await BenchIssuanceHTTP.withConnection(port: environment.port) { connection in
            try await connection.send(.DELETE, "/v1/webhooks/\(id)", token: token)
        }
        guard reply.status == 204 else { throw BenchIssuanceError("removing the webhook endpoint failed: HTTP \(reply.status)") }
    }

    /// Waits until the receiver has `count` distinct events, for at most `limit`.
    private func waitForReceipts(_ count: Int, upTo limit: Duration) async throws {
        let deadline = ContinuousClock.now + limit
        while receiver.distinct < count {
            guard ContinuousClock.now < deadline else {
                throw BenchIssuanceError("the receiver got \(receiver.distinct) of \(count) events within \(limit)")
            }
            try await Task.sleep(for: .milliseconds(2))
        }
    }
}

extension Duration {
    var seconds: Double { milliseconds / 1_000 }
}
