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
/// and announced on `airlock_policy_changes`. Every broker listens there and then activates the newest announced set
/// from `policy_sets` (validated again), so one reload switches all replicas to the same files.
///
/// A notification is only a nudge: its payload is never trusted (any role that can connect may `NOTIFY`). A broker
/// activates only a set that is announced, loaded, and newer than the one it runs, read from the table; so a
/// notification naming an older set rolls nothing back. Every switch is audited (`airlock.policy.activated`, with
/// the previous set and this broker's name) before it takes effect; a switch that cannot be audited does not happen.
/// Reloads, notifications and catch-ups are handled one at a time, in order.
struct PolicyReloader: Service {
    static let channel = "airlock_policy_changes"

    let database: Database
    let policies: LoadedPolicies
    let auditLog: AuditLog
    let readiness: Readiness
    let logger: Logger
    /// Whether SIGHUP triggers a reload (``ServerConfiguration/reloadPoliciesOnHangup``).
    var trapsHangup = true
    /// This broker's name in the audit events of its switches.
    var brokerName = BrokerRegistry.defaultName
    /// Asked to re-decide active leases once this broker has recorded and activated a new set (continuous
    /// evaluation: the broker passes ``ContinuousEvaluation``).
    var reevaluation: any LeaseReevaluation = NoLeaseReevaluation()

    /// What to do next, in order.
    enum Work: Sendable {
        /// SIGHUP: load the directory again.
        case reload
        /// A notification arrived or listening (re)started: activate the newest announced set if it is newer.
        case followAnnouncements
    }

    /// Runs until the broker stops; stopping (graceful shutdown or cancellation) is not an error.
    func run() async throws {
        let (work, queue) = AsyncStream.makeStream(of: Work.self, bufferingPolicy: .bufferingNewest(64))
        try? await cancelWhenGracefulShutdown {
            await withDiscardingTaskGroup { group in
                if trapsHangup {
                    group.addTask {
                        for await _ in await UnixSignalsSequence(trapping: .sighup) { queue.yield(.reload) }
                    }
                }
                group.addTask { await follow(queue) }
                group.addTask {
                    for await item in work {
                        switch item {
                        case .reload: await reloadFromDisk()
                        case .followAnnouncements: await activateNewestAnnounced()
                        }
                    }
                }
            }
        }
        queue.finish()
    }

    /// Loads the policy directory again; records, announces and activates the set when it changed.
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
        await activate(next, reason: "reload")
    }

    /// Nudges the serial worker on every notification, and each time listening starts (an announcement may have
    /// been missed while this broker was not listening). A ``ChannelListener``: its own connection, reconnects,
    /// heartbeat.
    private func follow(_ queue: AsyncStream<Work>.Continuation) async {
        let listener = ChannelListener(
            database: database, channel: Self.channel, logger: logger, isReady: { readiness.isMet("database") })
        await listener.run(listening: { listening in
            if listening { queue.yield(.followAnnouncements) }
        }, received: { _ in
            queue.yield(.followAnnouncements)
        })
    }

    /// Activates the newest announced, loaded set if it was recorded after the running one; whatever a
    /// notification said, nothing older is ever activated.
    private func activateNewestAnnounced() async {
        let running = policies.active
        do {
            let rows = try await database.client.query("""
                SELECT id, files::text FROM policy_sets
                WHERE announced AND status = 'loaded'
                  AND loaded_at > (SELECT loaded_at FROM policy_sets WHERE id = \(running.id))
                ORDER BY loaded_at DESC, id DESC LIMIT 1
                """, logger: logger)
            var newest: (UUID, String)?
            for try await row in rows.decode((UUID, String).self) { newest = row }
            guard let (id, text) = newest, id != running.id else { return }
            var files: [String: String] = [:]
            if case .object(let object) = try JSONValue.parse(Data(text.utf8)) {
                for (name, value) in object { files[name] = value.stringValue ?? "" }
            }
            guard !files.isEmpty else { return }
            let set = try ActivePolicySet.load(files: files, id: id, directory: running.directory)
            await activate(set, reason: "announced")
        } catch {
            logger.error("cannot activate the announced policy set; the running set stays", metadata: [
                "error": "\(describeDatabaseError(error))",
            ])
        }
    }

    /// Audits the switch to `set` (`airlock.policy.activated`), then activates it and asks for the leases to be
    /// re-decided (by the broker that reloaded). A switch that cannot be audited does not happen.
    private func activate(_ set: ActivePolicySet, reason: String) async {
        let previous = policies.active
        guard previous.id != set.id else { return }
        do {
            try await database.client.withConnection { connection in
                try await auditLog.append(NewAuditEvent(
                    type: "airlock.policy.activated", subject: set.id.uuidString.lowercased(), severity: .low,
                    data: [
                        "policy_set_id": .string(set.id.uuidString.lowercased()),
                        "previous_policy_set_id": .string(previous.id.uuidString.lowercased()),
                        "digest": .string(set.digest), "rules": .int(Int64(set.policies.rules.count)),
                        "reason": .string(reason), "broker": .string(brokerName),
                    ]),
                    on: connection, logger: logger)
            }
        } catch {
            logger.error("cannot audit a policy switch; the running set stays", metadata: [
                "policy_set_id": "\(set.id)", "error": "\(describeDatabaseError(error))",
            ])
            return
        }
        policies.activate(set)
        logger.info("policy set activated", metadata: [
            "policy_set_id": "\(set.id)", "previous_policy_set_id": "\(previous.id)", "reason": "\(reason)",
            "rules": "\(set.policies.rules.count)", "digest": "\(set.digest)",
        ])
        guard reason == "reload" else { return }  // the broker that recorded the set asks, once
        do {
            try await reevaluation.reevaluate(principal: nil, because: "policy set \(set.id) activated")
        } catch {
            logger.error("re-deciding active leases after the policy change failed", metadata: [
                "error": "\(describeDatabaseError(error))",
            ])
        }
    }
}
