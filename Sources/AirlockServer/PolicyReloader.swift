import AirlockBroker
import AirlockCore
import AirlockPostgres
import AirlockPolicy
import AirlockStore
import Foundation
import Logging
import ServiceLifecycle
import UnixSignals

/// Changes the policy set while the broker runs, on every replica.
///
/// On SIGHUP the broker reloads its policy directory: a set that does not load is refused (the running set stays,
/// `airlock.policy.rejected` names the first diagnostics); a changed set is recorded with `airlock.policy.loaded`
/// and announced on `airlock_policy_changes`. Every broker listens there and activates the announced set from
/// `policy_sets` (validated again), so one reload switches all replicas to the same files.
struct PolicyReloader: Service {
    static let channel = "airlock_policy_changes"

    let database: Database
    let policies: LoadedPolicies
    let auditLog: AuditLog
    let readiness: Readiness
    let logger: Logger
    /// Whether SIGHUP triggers a reload (``ServerConfiguration/reloadPoliciesOnHangup``).
    var trapsHangup = true
    /// Asked to re-decide active leases once this broker has recorded and activated a new set (the continuous
    /// evaluation seam; today nothing is re-decided until a lease is renewed).
    var reevaluation: any LeaseReevaluation = NoLeaseReevaluation()

    /// Runs until the broker stops; stopping (graceful shutdown or cancellation) is not an error.
    func run() async throws {
        try? await cancelWhenGracefulShutdown {
            await withDiscardingTaskGroup { group in
                if trapsHangup {
                    group.addTask {
                        for await _ in await UnixSignalsSequence(trapping: .sighup) { await reloadFromDisk() }
                    }
                }
                group.addTask { await follow() }
            }
        }
    }

    /// Loads the policy directory again; records and announces the set when it changed.
    func reloadFromDisk() async {
        let current = policies.active
        let next: ActivePolicySet
        do {
            next = try ActivePolicySet.load(directory: current.directory)
        } catch {
            let diagnostics = error.diagnostics.prefix(5).map(\.description)
            logger.error("policy reload refused; the running set stays", metadata: [
                "directory": "\(current.directory)", "diagnostics": "\(diagnostics.joined(separator: " | "))",
            ])
            try? await database.client.withConnection { connection in
                try await auditLog.append(NewAuditEvent(
                    type: "airlock.policy.rejected", subject: current.directory, severity: .medium,
                    data: ["directory": .string(current.directory), "errors": .int(Int64(error.diagnostics.count)),
                           "diagnostics": .array(diagnostics.map { .string($0) }),
                           "running_policy_set_id": .string(current.id.uuidString.lowercased())]),
                    on: connection, logger: logger)
            }
            return
        }
        guard next.digest != current.digest else { return }
        do {
            try await PolicyRecorder.record(next, database: database, auditLog: auditLog, notify: true, logger: logger)
        } catch {
            logger.error("policy reload not recorded; the running set stays", metadata: [
                "error": "\(describeDatabaseError(error))",
            ])
            return
        }
        policies.activate(next)
        do {
            try await reevaluation.reevaluate(principal: nil, because: "policy set \(next.id) activated")
        } catch {
            logger.error("re-deciding active leases after the policy change failed", metadata: [
                "error": "\(describeDatabaseError(error))",
            ])
        }
    }

    /// Activates the sets other replicas announce, for as long as the broker runs (a ``ChannelListener``: its own
    /// connection, reconnects, heartbeat). Each time it starts listening it first catches up on an announcement it
    /// may have missed while it was not.
    private func follow() async {
        let listener = ChannelListener(
            database: database, channel: Self.channel, logger: logger, isReady: { readiness.isMet("database") })
        await listener.run(listening: { listening in
            if listening { await catchUp() }
        }, received: { payload in
            guard let id = UUID(uuidString: payload), id != policies.active.id else { return }
            await activate(id)
        })
    }

    /// Activates the newest announced set recorded after the running one, if any (an announcement missed while this
    /// broker was not listening).
    private func catchUp() async {
        do {
            let rows = try await database.client.query("""
                SELECT id FROM policy_sets
                WHERE announced AND loaded_at > (SELECT loaded_at FROM policy_sets WHERE id = \(policies.active.id))
                ORDER BY loaded_at DESC LIMIT 1
                """, logger: logger)
            for try await id in rows.decode(UUID.self) where id != policies.active.id { await activate(id) }
        } catch {
            logger.debug("cannot check for missed policy announcements", metadata: ["error": "\(describeDatabaseError(error))"])
        }
    }

    /// Activates the recorded set `id` (announced by another replica).
    private func activate(_ id: UUID) async {
        do {
            let rows = try await database.client.query(
                "SELECT files::text FROM policy_sets WHERE id = \(id)", logger: logger)
            var files: [String: String] = [:]
            for try await text in rows.decode(String.self) {
                guard case .object(let object) = try JSONValue.parse(Data(text.utf8)) else { continue }
                for (name, value) in object { files[name] = value.stringValue ?? "" }
            }
            guard !files.isEmpty else { return }
            let set = try ActivePolicySet.load(files: files, id: id, directory: policies.active.directory)
            policies.activate(set)
            logger.info("policy set changed by another replica", metadata: [
                "policy_set_id": "\(id)", "rules": "\(set.policies.rules.count)", "digest": "\(set.digest)",
            ])
        } catch {
            logger.error("cannot activate the announced policy set; the running set stays", metadata: [
                "policy_set_id": "\(id)", "error": "\(describeDatabaseError(error))",
            ])
        }
    }
}
