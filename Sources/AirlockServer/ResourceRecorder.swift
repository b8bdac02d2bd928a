import AirlockCore
import AirlockPostgres
import AirlockStore
import Foundation
import Logging
import ServiceLifecycle

/// Records the resource catalog once the database is ready (``KnownResources``: settings and the sealed admin
/// password of each resource), and refuses a catalog that strands leases: a resource gone from `resources.json`
/// while leases of it may still hold a credential stops the broker, unless `resources.allow_removed` names it.
/// Then its leases are revoked with its last known settings, and an `airlock.resource.removed` event (severity
/// high) says so. Until this is done `/readyz` reports the resources as not yet recorded.
struct ResourceRecorder: Service {
    let database: Database
    let known: KnownResources
    let catalog: ResourceCatalog
    let allowRemoved: Set<String>
    let auditLog: AuditLog
    let readiness: Readiness
    let logger: Logger

    func run() async throws {
        try await recordWhenDatabaseReady(
            "resources", readiness: readiness, logger: logger,
            retrying: "cannot record the resource catalog yet; retrying",
            refusal: "refusing to serve this resource catalog", recordAndCheck)
    }

    func recordAndCheck() async throws {
        try await known.record(catalog.resources)
        let stranded = try await known.stranded(configured: Set(catalog.resources.map(\.id)))
        let refused = stranded.keys.filter { !allowRemoved.contains($0) }.sorted()
        guard refused.isEmpty else {
            let list = refused.map { "`\($0)` (\(stranded[$0] ?? 0) lease(s))" }.joined(separator: ", ")
            throw ConfigurationError(
                key: "resources.allow_removed",
                message: "resources.json no longer has \(list) whose leases may still hold a credential: put them "
                    + "back until their leases end, or list them in `resources.allow_removed` to revoke those leases "
                    + "with their last known settings")
        }
        for (id, count) in stranded.sorted(by: { $0.key < $1.key }) {
            logger.warning(
                "a resource left the catalog while leases of it may hold a credential; they are revoked with its last known settings",
                metadata: ["resource": "\(id)", "leases": "\(count)"])
            let event = NewAuditEvent(
                type: "airlock.resource.removed", subject: id, severity: .high,
                data: ["resource": .string(id), "leases": .int(Int64(count)), "allowed_by": .string("resources.allow_removed")])
            let auditLog = self.auditLog, logger = self.logger
            _ = try await database.client.withConnection { connection in
                try await auditLog.append(event, on: connection, logger: logger)
            }
        }
    }
}
