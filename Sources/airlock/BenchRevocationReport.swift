import AirlockCore
import Foundation

/// What `airlock bench revocation` prints: the lag from expiry to the login's absence, the burst time, the
/// broker's records, and the raw drops beside them.
struct BenchRevocationReport: Sendable {
    let plan: BenchRevocationRun.Plan
    /// Milliseconds from each lease's `expires_at` to its login gone (role and sessions), sorted.
    let lags: [Double]
    /// Milliseconds from expiry to the end of the held session, for the leases that held one, sorted.
    let sessionLags: [Double]
    /// Seconds from the first expiry to the last login gone.
    let burstSeconds: Double
    let records: BenchRevocationRun.Records
    let raw: [BenchRevocationRaw.Result]

    private func percentile(_ values: [Double], _ fraction: Double) -> Double {
        BenchIssuanceResult.percentile(values, fraction)
    }

    /// The fastest raw series, in seconds.
    var rawBest: Double { raw.map(\.seconds).min() ?? 0 }

    var text: String {
        func ms(_ value: Double) -> String { String(format: "%9.1f", value) }
        var lines: [String] = []
        lines.append("airlock bench revocation: \(plan.leases) leases expiring evenly over \(plan.window) s, "
            + "\(plan.sessions) holding an open session")
        lines.append("")
        lines.append("                            count     p50 ms    p99 ms    max ms")
        for (label, values) in [("expiry → login gone", lags), ("expiry → session ended", sessionLags)] where !values.isEmpty {
            lines.append(label.padding(toLength: 26, withPad: " ", startingAt: 0)
                + String(format: "%7d", values.count) + "  " + ms(percentile(values, 0.5)) + " "
                + ms(percentile(values, 0.99)) + " " + ms(values.last ?? 0))
        }
        lines.append("")
        lines.append(String(format: "burst: first expiry → last login gone: %.2f s (the expiries span %.2f s)",
                            burstSeconds, plan.window))
        for series in raw {
            lines.append(String(format: "raw: %d × DROP ROLE on %d connection%@: %.2f s (%.0f/s)%@",
                                series.count, series.connections, series.connections == 1 ? "" : "s", series.seconds,
                                series.seconds > 0 ? Double(series.count) / series.seconds : 0,
                                series.retries > 0 ? ", \(series.retries) retried" : ""))
        }
        lines.append("records: \(records.expired)/\(plan.leases) leases expired, \(records.revokedEvents) "
            + "airlock.credential.revoked, \(records.expiredEvents) airlock.lease.expired")
        lines.append("")
        let p50 = percentile(lags, 0.5), p99 = percentile(lags, 0.99)
        var targets = "targets: p50 ≤ 100 ms " + (p50 <= 100 ? "met" : "missed") + ", p99 ≤ 1000 ms "
            + (p99 <= 1_000 ? "met" : "missed")
        if plan.window == 0 {
            let ratio = rawBest > 0 ? burstSeconds / rawBest : 0
            targets += String(format: ", burst ≤ 1.2 × fastest raw %@ (%.2f ×)", ratio <= 1.2 ? "met" : "missed", ratio)
        } else {
            targets += " (burst against raw: run with --window 0)"
        }
        lines.append(targets)
        return lines.joined(separator: "\n")
    }

    var json: JSONValue {
        func rounded(_ value: Double) -> JSONValue { BenchIssuanceResult.rounded(value) }
        func series(_ values: [Double]) -> JSONValue {
            .object([
                "count": .int(Int64(values.count)), "p50_ms": rounded(percentile(values, 0.5)),
                "p99_ms": rounded(percentile(values, 0.99)), "max_ms": rounded(values.last ?? 0),
            ])
        }
        return .object([
            "leases": .int(Int64(plan.leases)), "window_seconds": rounded(plan.window),
            "sessions": .int(Int64(plan.sessions)),
            "lag": series(lags), "session_lag": series(sessionLags), "burst_seconds": rounded(burstSeconds),
            "records": .object([
                "expired": .int(Int64(records.expired)), "credential_revoked": .int(Int64(records.revokedEvents)),
                "lease_expired": .int(Int64(records.expiredEvents)),
            ]),
            "raw_drop_role": .array(raw.map { series in
                .object([
                    "connections": .int(Int64(series.connections)), "count": .int(Int64(series.count)),
                    "seconds": rounded(series.seconds), "retries": .int(Int64(series.retries)),
                ])
            }),
        ])
    }
}
