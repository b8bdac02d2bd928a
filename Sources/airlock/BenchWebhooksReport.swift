import AirlockCore
import Foundation

/// What `airlock bench webhooks` prints: events per second end to end, commit-to-receipt latency at a steady rate,
/// and issuance throughput with and without an endpoint receiving every event, against the targets.
struct BenchWebhooksReport: Sendable {
    struct Throughput: Sendable {
        let events: Int
        /// Seconds the writers took to commit every event.
        let writeSeconds: Double
        /// Seconds from the first commit to the last event's first receipt.
        let endToEndSeconds: Double
        /// Deliveries accepted, duplicates included.
        let deliveries: Int

        var perSecond: Double { endToEndSeconds > 0 ? Double(events) / endToEndSeconds : 0 }
    }

    struct Latency: Sendable {
        let events: Int
        let achievedRate: Double
        /// Milliseconds from each event's commit to its first receipt, sorted.
        let lags: [Double]
    }

    struct Issuance: Sendable {
        /// Credentials per second, per round.
        var without: [Double] = []
        /// With an endpoint backing off: the events are queued in the outbox, not posted.
        var queued: [Double] = []
        /// With an endpoint receiving every event as it happens.
        var with: [Double] = []
        /// Seconds the endpoint took, after a round with it, to receive the round's events.
        var drainSeconds: [Double] = []

        static func median(_ values: [Double]) -> Double {
            let sorted = values.sorted()
            guard !sorted.isEmpty else { return 0 }
            return sorted.count.isMultiple(of: 2)
                ? (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2 : sorted[sorted.count / 2]
        }

        /// The share of issuance throughput the outbox costs (queuing every event for an endpoint), in percent of the
        /// median without an endpoint.
        var outboxCost: Double { Self.cost(of: queued, against: without) }
        /// The share delivery costs as well (posting every event to a receiver on the same machine), in percent.
        var deliveryCost: Double { Self.cost(of: with, against: without) }

        static func cost(of values: [Double], against base: [Double]) -> Double {
            let base = median(base)
            return base > 0 ? (base - median(values)) / base * 100 : 0
        }
    }

    let plan: BenchWebhooksRun.Plan
    let throughput: Throughput
    let latency: Latency
    let issuance: Issuance
    /// Deliveries the receiver refused for a bad signature (must be 0).
    let refused: Int

    private func percentile(_ fraction: Double) -> Double { BenchIssuanceResult.percentile(latency.lags, fraction) }

    var text: String {
        var lines: [String] = []
        lines.append("airlock bench webhooks: one endpoint on a loopback receiver that verifies every signature")
        lines.append("")
        lines.append(String(
            format: "throughput: %d events committed in %.2f s on %d connections, all received %.2f s after the first commit: %.0f events/s end to end (%d deliveries)",
            throughput.events, throughput.writeSeconds, plan.writers, throughput.endToEndSeconds, throughput.perSecond,
            throughput.deliveries))
        lines.append(String(
            format: "latency at %.0f events/s (%d events, one per transaction): commit → receipt p50 %.1f ms, p99 %.1f ms, max %.1f ms",
            latency.achievedRate, latency.events, percentile(0.5), percentile(0.99), latency.lags.last ?? 0))
        if !issuance.without.isEmpty {
            func list(_ values: [Double]) -> String { values.map { String(format: "%.0f", $0) }.joined(separator: ", ") }
            lines.append(String(
                format: "issuance (POST /v1/credentials, %d per round on %d connections, credentials/s):",
                plan.issuanceRequests, plan.issuanceConcurrency))
            lines.append(String(format: "  no endpoint:                          %@ (median %.0f)",
                                list(issuance.without), Issuance.median(issuance.without)))
            lines.append(String(format: "  an endpoint, every event queued:      %@ (median %.0f): outbox cost %.1f %%",
                                list(issuance.queued), Issuance.median(issuance.queued), issuance.outboxCost))
            lines.append(String(
                format: "  an endpoint, every event delivered:   %@ (median %.0f): cost with delivery %.1f %% (drained %@ s after each round)",
                list(issuance.with), Issuance.median(issuance.with), issuance.deliveryCost,
                issuance.drainSeconds.map { String(format: "%.2f", $0) }.joined(separator: ", ")))
        }
        if refused > 0 { lines.append("WARNING: \(refused) deliveries failed signature verification") }
        lines.append("")
        var targets = "targets: ≥ 5,000 events/s " + (throughput.perSecond >= 5_000 ? "met" : "missed")
            + ", p99 ≤ 100 ms at 500/s " + (percentile(0.99) <= 100 ? "met" : "missed")
        if !issuance.without.isEmpty {
            targets += ", outbox cost to issuance ≤ 10 % " + (issuance.outboxCost <= 10 ? "met" : "missed")
        }
        lines.append(targets)
        return lines.joined(separator: "\n")
    }

    var json: JSONValue {
        var object: [String: JSONValue] = [
            "throughput": .object([
                "events": .int(Int64(throughput.events)), "write_seconds": .double(throughput.writeSeconds),
                "end_to_end_seconds": .double(throughput.endToEndSeconds), "per_second": .double(throughput.perSecond),
                "deliveries": .int(Int64(throughput.deliveries)),
            ]),
            "latency": .object([
                "events": .int(Int64(latency.events)), "rate": .double(latency.achievedRate),
                "p50_ms": .double(percentile(0.5)), "p99_ms": .double(percentile(0.99)),
                "max_ms": .double(latency.lags.last ?? 0),
            ]),
            "refused": .int(Int64(refused)),
        ]
        if !issuance.without.isEmpty {
            object["issuance"] = .object([
                "without_per_second": .array(issuance.without.map { .double($0) }),
                "queued_per_second": .array(issuance.queued.map { .double($0) }),
                "with_per_second": .array(issuance.with.map { .double($0) }),
                "outbox_cost_percent": .double(issuance.outboxCost),
                "delivery_cost_percent": .double(issuance.deliveryCost),
                "drain_seconds": .array(issuance.drainSeconds.map { .double($0) }),
            ])
        }
        return .object(object)
    }
}
