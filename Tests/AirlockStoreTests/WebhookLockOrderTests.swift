import AirlockCore
import AirlockStore
import AirlockTestSupport
import Foundation
import PostgresNIO
import Testing

/// Every writer of an endpoint and its deliveries locks the endpoint's row first: a failed delivery and the removal of
/// its endpoint once took the two in opposite orders and deadlocked (found by the fuzzer: a 500 on
/// `DELETE /v1/webhooks/{id}` while a delivery to it failed).
@Suite(.timeLimit(.minutes(2)))
struct WebhookLockOrderTests {
    let logger = Support.logger

    @Test("a failed delivery waits for its endpoint's row before it touches its delivery row")
    func failedLocksTheEndpointFirst() async throws {
        try await TestDatabase.withDatabase { database in
            let keys = DataKeyStore(database: database, keyRing: KeyRing(current: .generate()))
            let webhooks = WebhookStore(database: database, auditLog: Support.auditLog, keys: keys)
            let endpoint = try await webhooks.add(
                WebhookEndpoint(id: UUID(), url: "https://hook.example/x", createdAt: Date(), createdBy: "token:root"),
                signingKey: WebhookSecret.generate().bytes, logger: logger)
            _ = try await Support.drain(database)  // chained: its creation event is now a pending delivery
            let deliveries = WebhookDeliveryStore(database: database, auditLog: Support.auditLog, keys: keys)
            let delivery = try #require(try await deliveries.pending(for: endpoint.id, limit: 1, logger: logger).first)
            let logger = self.logger

            // Another transaction holds the endpoint's row, as a removal does before it deletes the deliveries.
            let held = try await database.client.withTransaction(logger: logger) { holder -> Task<Void, any Error> in
                try await holder.query(
                    "SELECT 1 FROM webhook_endpoints WHERE id = \(endpoint.id) FOR UPDATE", logger: logger)
                let failing = Task {
                    try await deliveries.failed(
                        delivery, to: endpoint, response: .failed(reason: "connection refused"),
                        state: WebhookDeliveryState(failures: 1, failingSince: Date()),
                        action: .retry(at: Date().addingTimeInterval(60)), logger: logger)
                }
                try await Task.sleep(for: .milliseconds(500))
                // The failure is waiting for the endpoint, holding nothing the removal needs next.
                var free = true
                do {
                    try await database.client.query(
                        "SELECT 1 FROM webhook_deliveries WHERE id = \(delivery.id) FOR UPDATE NOWAIT", logger: logger)
                } catch {
                    free = false
                }
                #expect(free, "the failed delivery locked its delivery row before its endpoint's")
                return failing
            }
            try await held.value  // once the endpoint is free, the failure is recorded
            let attempts = try await database.client.query(
                "SELECT attempts FROM webhook_deliveries WHERE id = \(delivery.id)", logger: logger)
            for try await count in attempts.decode(Int32.self) { #expect(count == 1) }
        }
    }
}
