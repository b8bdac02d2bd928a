import AirlockBroker
import AirlockCore
import AirlockPostgres
import AirlockStore
import Foundation
import Logging
import ServiceLifecycle

/// Records the policy set loaded at start-up once the database is ready: a `policy_sets` row and an
/// `airlock.policy.loaded` audit event, in one transaction. Until then `/readyz` reports the policies as
/// not yet recorded, so no decision is ever made under a set the audit log does not know.
struct PolicyRecorder: Service {
    let database: Database
    let policies: LoadedPolicies
    let auditLog: AuditLog
    let readiness: Readiness
    let logger: Logger

    func run() async throws {
        try await recordWhenDatabaseReady(
            "policies", readiness: readiness, logger: logger, retrying: "cannot record the policy set yet; retrying",
            refusal: "refusing to serve this policy set"
        ) { try await record(policies.active) }
    }

    private func record(_ set: ActivePolicySet) async throws {
        try await PolicyRecorder.record(set, database: database, auditLog: auditLog, notify: false, logger: logger)
    }

    /// Inserts `set` into `policy_sets` with `airlock.policy.loaded`, in one transaction; with `notify`, also
    /// notifies `airlock_policy_changes` (delivered at commit) so the other replicas follow.
    static func record(
        _ set: ActivePolicySet, database: Database, auditLog: AuditLog, notify: Bool, logger: Logger
    ) async throws {
        let files = JSONValue.object(Dictionary(uniqueKeysWithValues: set.policies.sources.map {
            ($0.name, JSONValue.string($0.text))
        }))
        let ruleCount = set.policies.rules.count
        try await database.client.withTransaction(logger: logger) { connection in
            try await connection.query(
                """
                INSERT INTO policy_sets (id, digest, files, status, announced)
                VALUES (\(set.id), \(set.digest), \(files.canonicalString())::jsonb, 'loaded', \(notify))
                """, logger: logger)
            try await auditLog.append(
                NewAuditEvent(
                    type: "airlock.policy.loaded", subject: set.id.uuidString.lowercased(),
                    data: [
                        "policy_set_id": .string(set.id.uuidString.lowercased()),
                        "digest": .string(set.digest),
                        "directory": .string(set.directory),
                        "files": .array(set.policies.sources.map { .string($0.name) }),
                        "rules": .int(Int64(ruleCount)),
                    ]),
                on: connection, logger: logger)
            if notify {
                try await connection.query(
                    "SELECT pg_notify(\(PolicyReloader.channel), \(set.id.uuidString.lowercased()))", logger: logger)
            }
        }
        logger.info("policy set loaded", metadata: [
            "policy_set_id": "\(set.id)", "rules": "\(ruleCount)", "digest": "\(set.digest)",
        ])
    }
}
