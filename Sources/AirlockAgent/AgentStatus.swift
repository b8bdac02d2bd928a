import AirlockCore
import Foundation
import Synchronization

/// What the agent knows of each credential, for `/healthz` and `/metrics`: the lease held and when it ends, and
/// counters of what happened. No secret is kept here.
public final class AgentStatus: Sendable {
    public struct Credential: Sendable, Hashable {
        public var leaseID: UUID?
        public var expiresAt: Date?
        public var issued = 0
        public var renewed = 0
        public var revoked = 0
        /// By kind: `unreachable`, `unauthorized`, `refused`, `rejected`, `ended`, `output`.
        public var failures: [String: Int] = [:]
        public var lastProblem: String?
    }

    private let clock: any WallClock
    private let credentials: Mutex<[String: Credential]>
    private let names: [String]

    public init(names: [String], clock: any WallClock = SystemWallClock()) {
        self.names = names
        self.clock = clock
        credentials = Mutex(Dictionary(uniqueKeysWithValues: names.map { ($0, Credential()) }))
    }

    public func update(_ name: String, _ change: (inout Credential) -> Void) {
        credentials.withLock { table in
            var entry = table[name] ?? Credential()
            change(&entry)
            table[name] = entry
        }
    }

    public func credential(_ name: String) -> Credential? {
        credentials.withLock { $0[name] }
    }

    /// Healthy when every credential is held and not yet ended.
    public var health: (healthy: Bool, json: JSONValue) {
        let now = clock.now()
        let table = credentials.withLock { $0 }
        var healthy = true
        var items: [JSONValue] = []
        for name in names {
            let entry = table[name] ?? Credential()
            let valid = entry.expiresAt.map { $0 > now } ?? false
            healthy = healthy && valid
            var item: [String: JSONValue] = ["name": .string(name), "valid": .bool(valid)]
            if let lease = entry.leaseID { item["lease_id"] = .string(lease.uuidString.lowercased()) }
            if let expires = entry.expiresAt {
                item["expires_at"] = .string(AuditTime.format(expires))
                item["expires_in_seconds"] = .int(Int64(max(0, expires.timeIntervalSince(now)).rounded(.down)))
            }
            if let problem = entry.lastProblem { item["last_problem"] = .string(problem) }
            items.append(.object(item))
        }
        return (healthy, ["status": .string(healthy ? "ok" : "degraded"), "credentials": .array(items)])
    }

    /// The Prometheus text exposition of the agent's metrics.
    public var metrics: String {
        let now = clock.now()
        let table = credentials.withLock { $0 }
        var lines: [String] = []
        func family(_ name: String, _ type: String, _ help: String, _ samples: [(labels: String, value: String)]) {
            lines.append("# HELP \(name) \(help)")
            lines.append("# TYPE \(name) \(type)")
            for sample in samples { lines.append("\(name){\(sample.labels)} \(sample.value)") }
        }
        let ordered = names.map { ($0, table[$0] ?? Credential()) }
        func label(_ name: String) -> String { "credential=\"\(Self.escaped(name))\"" }
        family("airlock_agent_credential_expiry_seconds", "gauge",
               "Seconds until the credential handed over ends (0 when none is held).",
               ordered.map { (label($0.0), Self.number(max(0, $0.1.expiresAt?.timeIntervalSince(now) ?? 0))) })
        family("airlock_agent_credential_valid", "gauge", "1 when a credential is held and has not ended.",
               ordered.map { (label($0.0), ($0.1.expiresAt.map { $0 > now } ?? false) ? "1" : "0") })
        family("airlock_agent_issues_total", "counter", "Credentials issued (the first and every successor).",
               ordered.map { (label($0.0), String($0.1.issued)) })
        family("airlock_agent_renewals_total", "counter", "Renewals the broker answered.",
               ordered.map { (label($0.0), String($0.1.renewed)) })
        family("airlock_agent_revocations_total", "counter", "Superseded or held credentials revoked.",
               ordered.map { (label($0.0), String($0.1.revoked)) })
        let kinds = ["unreachable", "unauthorized", "refused", "rejected", "ended", "output"]
        family("airlock_agent_failures_total", "counter", "Calls and hand-overs that failed, by kind.",
               ordered.flatMap { entry in kinds.map { (label(entry.0) + ",kind=\"\($0)\"", String(entry.1.failures[$0] ?? 0)) } })
        return lines.joined(separator: "\n") + "\n"
    }

    static func escaped(_ text: String) -> String {
        text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            .replacingOccurrences(of: "\n", with: "\\n")
    }

    static func number(_ value: Double) -> String {
        String(format: "%.3f", value)
    }
}
