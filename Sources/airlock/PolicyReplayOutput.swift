import AirlockBroker
import AirlockCore
import AirlockPolicy
import AirlockPostgres
import AirlockServer
import AirlockStore
import Foundation

/// How `airlock policy replay` prints its report: a table for people, one JSON object for scripts.
enum PolicyReplayOutput {
    /// One row per changed request, then the requests that could not be re-decided, then a summary line.
    static func text(_ report: PolicyReplay.Report, since: Date) -> String {
        let header = ["REQUEST", "CREATED", "PRINCIPAL", "RESOURCE", "ROLE", "BEFORE", "AFTER", "RULES BEFORE → AFTER"]
        let rows = report.changes.map { change in
            let request = change.request
            return [
                request.id.uuidString.lowercased(), AuditTime.format(request.createdAt), request.principalID,
                request.resourceID, request.role, describe(change.change.before), describe(change.change.after),
                "\(rules(change.change.before)) → \(rules(change.change.after))",
            ]
        }
        var lines: [String] = []
        if !rows.isEmpty {
            let widths = header.indices.map { column in ([header] + rows).map { $0[column].count }.max() ?? 0 }
            for row in [header] + rows {
                let cells = row.enumerated().map { column, cell in
                    column == row.count - 1 ? cell : cell.padding(toLength: widths[column], withPad: " ", startingAt: 0)
                }
                lines.append(cells.joined(separator: "  "))
            }
        }
        for failure in report.failures {
            let request = failure.request
            lines.append("cannot re-decide \(request.id.uuidString.lowercased()) (\(request.principalID), "
                + "\(request.resourceID)/\(request.role)): \(failure.message)")
        }
        let window = AuditTime.format(since)
        if report.hasChanges {
            let count = report.changes.count + report.failures.count
            let plural = report.examined == 1 ? "" : "s"
            lines.append("\(count) of \(report.examined) decision\(plural) would change (requests since \(window))")
        } else {
            lines.append("no decision would change: re-decided \(report.examined) request\(report.examined == 1 ? "" : "s") since \(window)")
        }
        return lines.joined(separator: "\n")
    }

    /// `{"since", "examined", "changed": [...], "failed": [...]}`, keys sorted.
    static func json(_ report: PolicyReplay.Report, since: Date) -> String {
        func facts(_ request: DecidedRequest) -> [String: JSONValue] {
            [
                "request": .string(request.id.uuidString.lowercased()), "principal": .string(request.principalID),
                "resource": .string(request.resourceID), "role": .string(request.role),
                "created_at": .string(AuditTime.format(request.createdAt)),
            ]
        }
        let changed: [JSONValue] = report.changes.map { change in
            var object = facts(change.request)
            object["changes"] = .array(change.change.aspects.map { .string($0.rawValue) })
            object["before"] = change.change.before.stored
            object["after"] = change.change.after.stored
            return .object(object)
        }
        let failed: [JSONValue] = report.failures.map { failure in
            var object = facts(failure.request)
            object["error"] = .string(failure.message)
            return .object(object)
        }
        return JSONValue.object([
            "since": .string(AuditTime.format(since)), "examined": .int(Int64(report.examined)),
            "changed": .array(changed), "failed": .array(failed),
        ]).canonicalString()
    }

    /// `permit 1h`, `pending_approval 30m (db-owners 2, security 1)`, `deny`.
    static func describe(_ decision: Decision) -> String {
        var text = decision.outcome.rawValue
        if decision.outcome != .deny, let ttl = decision.ttlSeconds { text += " " + DurationText.format(ttl) }
        if decision.outcome == .pendingApproval, !decision.approvals.isEmpty {
            let alternatives = decision.approvals.map { rule in
                rule.requires.map { requirement in
                    let who = switch requirement.approvers {
                    case .group(let group): "\(group) \(requirement.count)"
                    case .user(let id): "user \(id)"
                    }
                    return who + (requirement.includesServices ? " including services" : "")
                }
                    .joined(separator: ", ")
            }
            text += " (" + alternatives.joined(separator: " | ") + ")"
        }
        return text
    }

    /// The deciding rules, or `(none)` for a default deny.
    static func rules(_ decision: Decision) -> String {
        decision.rules.isEmpty ? "(none)" : decision.rules.joined(separator: ",")
    }

    /// One line for an error that stopped the replay, never a password.
    static func describe(_ error: any Error) -> String {
        switch error {
        case let error as StoreError: error.message
        case let error as ConfigurationError: error.description
        default: describeDatabaseError(error)
        }
    }
}
