import AirlockCore
import AirlockPolicy
import ArgumentParser
import Foundation

/// Human output for the client commands: decisions, what a pending request still needs, credentials.
enum ClientOutput {
    /// `30s`, `15m`, `1h`, `2d` and combinations such as `1h30m`, as a positive number of seconds.
    static func parseDuration(_ text: String, option: String = "--ttl") throws -> Int64 {
        guard case .success(let seconds) = DurationText.parse(text), seconds > 0 else {
            throw ClientError("\(option) `\(text)` is not a duration such as 30s, 15m, 1h, 2d or 1h30m")
        }
        return seconds
    }

    static func duration(_ seconds: Int64?) -> String {
        seconds.map { DurationText.format($0) } ?? "-"
    }

    /// The lines describing an answer to `POST /v1/access-requests`: the decision, then rules, approvals still
    /// needed, or on deny the explanation (one line each).
    static func decisionLines(_ answer: JSONValue) -> [String] {
        let decision = answer["decision"]
        var lines: [String] = []
        let rules = strings(decision?["rules"])
        if !rules.isEmpty { lines.append("  rules: \(rules.joined(separator: ", "))") }
        if let ttl = decision?["ttl_seconds"]?.intValue { lines.append("  ttl: \(duration(ttl))") }
        let needed = stillNeeded(answer)
        if !needed.isEmpty { lines.append("  needs: \(needed)") }
        for rule in answer["approvers"]?.arrayValue ?? [] {
            for requirement in rule["requires"]?.arrayValue ?? [] {
                let members = strings(requirement["members"])
                if !members.isEmpty, let group = requirement["group"]?.shown {
                    lines.append("  known members of \(group): \(members.joined(separator: ", "))")
                }
                if let reason = requirement["unmeetable"]?.shown {
                    lines.append("  \(rule["rule"]?.shown ?? "?") can never be approved: \(reason)")
                }
            }
        }
        // On deny: every forbid that applied, then what each permit or approval rule still needs.
        let explanation = answer["explanation"]?.arrayValue ?? []
        for item in explanation where item["effect"]?.shown == "forbid" && item["applied"]?.boolValue == true {
            lines.append("  forbidden by \(item["rule"]?.shown ?? "?")")
        }
        for item in explanation where item["effect"]?.shown != "forbid" {
            guard let message = item["message"]?.shown else { continue }
            let rule = item["rule"]?.shown ?? "?"
            let line = item["line"]?.intValue.map { " (line \($0))" } ?? ""
            lines.append("  \(rule)\(line): \(message)")
        }
        for error in decision?["errors"]?.arrayValue ?? [] {
            let rule = error["rule"]?.shown ?? "?"
            lines.append("  error in \(rule): \(error["message"]?.shown ?? "evaluation failed")")
        }
        return lines
    }

    /// What a pending request still needs, from its `approvers` (rules are alternatives, joined by "or"):
    /// `1 more from db-owners and approval from erin`. A requirement that can never be met says so.
    /// What an approver judges by: the risk score with each signal and why, and the approver context (peers with
    /// the access, first use, last uses). Server text is shown through ``TerminalText`` (`shown`).
    static func judgementLines(_ request: JSONValue) -> [String] {
        var lines: [String] = []
        if let risk = request["risk"], let score = risk["score"]?.intValue {
            lines.append("risk: \(score)")
            for signal in risk["signals"]?.arrayValue ?? [] {
                let weight = signal["weight"]?.intValue.map { "+\($0)" } ?? ""
                lines.append("  \(signal["name"]?.shown ?? "?") \(weight): \(signal["detail"]?.shown ?? "")")
            }
        }
        if let context = request["approver_context"] {
            let peers = context["peers"]?.intValue ?? 0, with = context["peers_with_access"]?.intValue ?? 0
            lines.append("peers with this access: \(with) of \(peers)")
            if context["first_use"]?.boolValue == true { lines.append("first use of this resource") }
            let uses = context["last_uses"]?.arrayValue ?? []
            if !uses.isEmpty {
                let shown = uses.map { "\($0["at"]?.shown ?? "?") \($0["role"]?.shown ?? "?")" }.joined(separator: ", ")
                lines.append("last uses: \(shown)")
            }
        }
        return lines
    }

    static func stillNeeded(_ request: JSONValue) -> String {
        let alternatives = (request["approvers"]?.arrayValue ?? []).compactMap { rule -> String? in
            let parts = (rule["requires"]?.arrayValue ?? []).compactMap { requirement -> String? in
                let count = requirement["count"]?.intValue ?? 0
                let done = Int64(requirement["approved_by"]?.arrayValue?.count ?? 0)
                if let user = requirement["user"]?.shown {
                    if let reason = requirement["unmeetable"]?.shown {
                        return "approval from \(user), which can never count (\(reason))"
                    }
                    return count > done ? "approval from \(user)" : nil
                }
                guard count > done, let group = requirement["group"]?.shown else { return nil }
                return "\(count - done) more from \(group)"
            }
            return parts.isEmpty ? nil : parts.joined(separator: " and ")
        }
        if alternatives.isEmpty, request["approvers"] == nil,
           let approvals = request["decision"]?["approvals"]?.arrayValue, !approvals.isEmpty {
            return approvals.map { rule in
                (rule["requires"]?.arrayValue ?? []).map { requirement in
                    if let user = requirement["user"]?.shown { return "approval from \(user)" }
                    return "\(requirement["count"]?.intValue ?? 1) from \(requirement["group"]?.shown ?? "?")"
                }.joined(separator: " and ")
            }.joined(separator: " or ")
        }
        return alternatives.joined(separator: " or ")
    }

    static func strings(_ value: JSONValue?) -> [String] {
        (value?.arrayValue ?? []).compactMap(\.shown)
    }

    /// A credential in the chosen format; the password appears only here, on stdout.
    static func credential(_ credential: JSONValue, format: CredentialFormat) -> String {
        switch format {
        case .json:
            return credential.description
        case .dsn:
            if let dsn = credential["dsn"]?.stringValue { return dsn }
            return credential["token"]?.stringValue ?? ""
        case .env:
            return environment(credential).map { "export \($0.key)=\(shellQuote($0.value))" }
                .joined(separator: "\n")
        }
    }

    /// The environment a credential gives a command, in a stable order (``DeliveredCredential/environment``).
    static func environment(_ credential: JSONValue) -> [(key: String, value: String)] {
        DeliveredCredential(credential)?.environment ?? []
    }

    /// POSIX shell single quoting: `it's` → `'it'\''s'`.
    static func shellQuote(_ text: String) -> String {
        let safe = CharacterSet(charactersIn: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./:@%+=,")
        if !text.isEmpty, text.unicodeScalars.allSatisfy({ safe.contains($0) }) { return text }
        return "'" + text.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }

    /// A one-line summary of a credential without its secret, for stderr.
    static func credentialNote(_ credential: JSONValue) -> String {
        let who = credential["username"]?.shown.map { "user \($0), " } ?? ""
        let expires = credential["expires_at"]?.shown ?? "?"
        let lease = credential["lease_id"]?.shown ?? "?"
        return "credential issued: \(who)lease \(lease), expires \(expires)"
    }

    /// Writes a line to stderr.
    static func note(_ text: String) {
        FileHandle.standardError.write(Data((text + "\n").utf8))
    }
}

/// `creds --format`.
enum CredentialFormat: String, ExpressibleByArgument, CaseIterable, Sendable {
    case dsn, env, json
}
