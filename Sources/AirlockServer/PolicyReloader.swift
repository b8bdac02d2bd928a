import AirlockCore
import AirlockPolicy
import AirlockStore
import Foundation
import Logging
import PostgresNIO
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
    /// Whether SIGHUP triggers a reload (the server; tests call ``reloadFromDisk()`` themselves).
    var trapsHangup = true

    enum Outcome: Sendable, Equatable {
        case unchanged
        case loaded(UUID)
        case rejected(String)
    }

    /// Runs until the broker stops; stopping (graceful shutdown or cancellation) is not an error.
    func run() async throws {
        try? await cancelWhenGracefulShutdown {
            await withDiscardingTaskGroup { group in
                if trapsHangup {
                    group.addTask {
                        for await _ in await UnixSignalsSequence(trapping: .sighup) { _ = await reloadFromDisk() }
                    }
                }
                group.addTask { await follow() }
            }
        }
    }

    /// Loads the policy directory again; records and announces the set when it changed.
    func reloadFromDisk() async -> Outcome {
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
            return .rejected(diagnostics.first ?? "the policies do not load")
        }
        guard next.digest != current.digest else { return .unchanged }
        do {
            try await PolicyRecorder.record(next, database: database, auditLog: auditLog, notify: true, logger: logger)
        } catch {
            logger.error("policy reload not recorded; the running set stays", metadata: [
                "error": "\(describeDatabaseError(error))",
            ])
            return .rejected("the database did not record the new set")
        }
        policies.activate(next)
        return .loaded(next.id)
    }

    /// Activates the sets other replicas announce, for as long as the broker runs (reconnecting when needed).
    private func follow() async {
        var failures = 0
        while !Task.isCancelled {
            guard readiness.isMet("database") else {
                try? await Task.sleep(for: .milliseconds(200))
                continue
            }
            do {
                let connection = try await PostgresConnection.connect(
                    configuration: try database.url.connectionConfiguration(), id: 0x9011, logger: logger)
                do {
                    try await connection.listen(on: Self.channel) { notifications in
                        failures = 0
                        // Announcements missed while not listening; then again now and then, in case this
                        // connection stops delivering without failing.
                        try await withThrowingTaskGroup(of: Void.self) { group in
                            group.addTask {
                                while true {
                                    await catchUp()
                                    try await Task.sleep(for: .seconds(30))
                                }
                            }
                            group.addTask {
                                for try await notification in notifications {
                                    guard let id = UUID(uuidString: notification.payload), id != policies.active.id
                                    else { continue }
                                    await activate(id)
                                }
                            }
                            do {
                                try await group.next()
                            } catch {
                                group.cancelAll()
                                throw error
                            }
                            group.cancelAll()
                        }
                    }
                } catch {
                    try? await connection.close()
                    throw error
                }
                try? await connection.close()
            } catch {
                if Task.isCancelled { return }
                failures += 1
                if failures == 1 || failures.isMultiple(of: 20) {
                    logger.warning("cannot listen for policy changes; retrying", metadata: [
                        "error": "\(describeDatabaseError(error))",
                    ])
                }
            }
            try? await Task.sleep(for: .milliseconds(min(5_000, 100 * (1 << min(failures, 6)))))
        }
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
