import AirlockBroker
import AirlockCore
import AirlockPolicy
import AirlockServer
import AirlockStore
import ArgumentParser
import Foundation
import Logging

/// `airlock token create | list | revoke`: Airlock's own `alk_` API tokens, straight against the database.
struct TokenCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "token",
        abstract: "Manage Airlock API tokens (alk_...) directly in the database.",
        subcommands: [Create.self, List.self, Revoke.self])

    /// Creates a token and prints it once.
    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create an API token; the token is printed once on stdout, its id on stderr.",
            discussion: """
                Scopes: admin, auditor, service, introspect, signals. Airlock keeps only a hash of the token. Only a token \
                with the service scope acts as a principal; an introspect token needs --audience. A --group that \
                the policies (`policies.dir`, default Policies) use as approvers is refused unless a requirement on it says \
                `including services`.
                """)

        @OptionGroup var options: ServerOptions

        @Option(name: .customLong("scope"), help: "A scope (repeatable): admin, auditor, service, introspect, signals.")
        var scopes: [String] = []

        @Option(name: .customLong("group"), help: "A group of the token's service principal (repeatable).")
        var groups: [String] = []

        @Option(help: "A name for people; the principal is token:<name>. Default: cli-<random>, one principal per token.")
        var name: String?

        @Option(help: ArgumentHelp("Lifetime such as 30d or 12h; none by default.", valueName: "duration"))
        var ttl: String?

        @Option(help: ArgumentHelp(
            "With --scope introspect (and required there): the token resource audience it introspects for.",
            valueName: "audience"))
        var audience: String?

        /// The token asked for, checked as `POST /v1/tokens` checks it (``ApiTokens/validate(_:)``).
        func validate() throws {
            do {
                _ = try ApiTokens.validate(try newToken())
            } catch let error as BrokerError {
                throw ValidationError(error.message)
            }
        }

        func newToken() throws -> NewApiToken {
            NewApiToken(
                name: name ?? Self.defaultName, scopes: scopes, groups: groups, ttlSeconds: try parsedTTL(),
                audience: audience)
        }

        /// `cli-` and 8 random hex digits: tokens made without `--name` are each a principal of their own.
        static let defaultName: String = {
            var generator = SystemRandomNumberGenerator()
            return "cli-" + String(UInt32.random(in: .min ... .max, using: &generator), radix: 16)
        }()

        func parsedTTL() throws -> Int64? {
            guard let ttl else { return nil }
            guard case .success(let seconds) = DurationText.parse(ttl), seconds > 0 else {
                throw ValidationError("--ttl `\(ttl)` is not a positive duration such as 30m, 12h or 30d")
            }
            return seconds
        }

        func run() async throws {
            let token = try newToken()
            let created: (record: ApiTokenRecord, secret: String)
            do {
                created = try await options.withDatabase { database, settings, logger in
                    try await ApiTokens.on(database, settings).create(token, by: "cli", logger: logger)
                }
            } catch let error as BrokerError {
                throw ValidationError(error.message)
            }
            print(created.secret)
            FileHandle.standardError.write(Data("token id \(created.record.id.uuidString.lowercased())\n".utf8))
        }
    }

    /// Lists tokens, never a secret.
    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List API tokens (never their secrets).")

        @OptionGroup var options: ServerOptions

        @Flag(help: "One JSON object per line.")
        var json = false

        func run() async throws {
            let records = try await options.withDatabase { database, settings, logger in
                try await ApiTokens.on(database, settings).list(logger: logger)
            }
            for record in records { print(json ? Self.jsonLine(record) : Self.line(record)) }
        }

        static func line(_ record: ApiTokenRecord) -> String {
            let state = record.revokedAt != nil ? "revoked" : "active"
            let expires = record.expiresAt.map { AuditTime.format($0) } ?? "never"
            let scopes = record.scopes.map(\.rawValue).joined(separator: ",")
            let lastUsed = record.lastUsedAt.map { AuditTime.format($0) } ?? "never"
            let name = record.name.isEmpty ? "-" : TerminalText.escaped(record.name)
            return "\(record.id.uuidString.lowercased())  \(state)  \(name)  scopes=\(scopes)  expires=\(expires)"
                + "  last_used=\(lastUsed)"
        }

        static func jsonLine(_ record: ApiTokenRecord) -> String {
            var object: [String: JSONValue] = [
                "id": .string(record.id.uuidString.lowercased()), "name": .string(record.name),
                "scopes": .array(record.scopes.map { .string($0.rawValue) }),
                "groups": .array(record.groups.map { .string($0) }),
                "created_at": .string(AuditTime.format(record.createdAt)),
            ]
            object["expires_at"] = record.expiresAt.map { .string(AuditTime.format($0)) } ?? .null
            object["last_used_at"] = record.lastUsedAt.map { .string(AuditTime.format($0)) } ?? .null
            object["revoked_at"] = record.revokedAt.map { .string(AuditTime.format($0)) } ?? .null
            return JSONValue.object(object).canonicalString()
        }
    }

    /// Revokes a token at once; returns once every live broker has dropped it.
    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Revoke an API token now.",
            discussion: "Returns once every running broker has dropped the token from its caches, waiting at most "
                + "tokens.revocation_wait_ms (default 5 s) for their acknowledgements; a broker that does not "
                + "acknowledge in time is named on stderr, its caches are switched off, and the command still returns "
                + "only once that broker can no longer answer from them.")

        @OptionGroup var options: ServerOptions

        @Argument(help: "The token id (from `airlock token list`).")
        var id: String

        func run() async throws {
            guard let tokenID = UUID(uuidString: id) else { throw ValidationError("`\(id)` is not a token id") }
            let outcome: ApiTokenStore.Revocation
            do {
                outcome = try await options.withDatabase { database, settings, logger in
                    try await ApiTokens.on(database, settings).revoke(tokenID, by: "cli", logger: logger)
                }
            } catch BrokerError.notFound {
                throw ValidationError("no api token has id `\(id)`")
            }
            print(outcome == .revoked
                ? "revoked \(tokenID.uuidString.lowercased())" : "\(tokenID.uuidString.lowercased()) was already revoked")
        }
    }
}

extension ApiTokens {
    /// The token service on `database`, auditing as this broker's configured source; a new token's groups are
    /// checked against the policies of the configured policies directory (what `airlock serve` loads), and a
    /// revocation waits for the running brokers as configured (`tokens.revocation_wait_ms`).
    static func on(_ database: Database, _ settings: AirlockConfiguration) -> ApiTokens {
        let directory = settings.policiesDirectory
        return ApiTokens(
            store: ApiTokenStore(
                database: database, auditLog: AuditLog(source: settings.auditSource),
                barrier: RevocationBarrier(wait: settings.tokenRevocationWait)),
            policies: { try ActivePolicySet.load(directory: directory).policies })
    }
}
