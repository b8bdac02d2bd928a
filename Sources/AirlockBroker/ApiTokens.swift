import AirlockCore
import AirlockPolicy
import AirlockStore
import Foundation
import Logging

/// What an admin asks for when creating an `alk_` API token.
public struct NewApiToken: Sendable, Hashable {
    /// 1 to 64 characters, not blank, no control characters. The token acts as principal `token:<name>`.
    public var name: String
    /// At least one of `admin`, `auditor`, `service`, `introspect`, `signals`.
    public var scopes: [String]
    /// At most 64, each `^[a-z0-9][a-z0-9_-]{0,63}$`.
    public var groups: [String]
    /// 1 to ``ApiTokens/maximumTTLSeconds``; nil: the token does not expire.
    public var ttlSeconds: Int64?
    /// The audience an `introspect` token introspects for (required with that scope, refused without it): it
    /// learns only about `alkc_` credential tokens minted for this audience (a `token` resource's `audience`).
    public var audience: String?

    public init(
        name: String, scopes: [String], groups: [String] = [], ttlSeconds: Int64? = nil, audience: String? = nil
    ) {
        self.name = name
        self.scopes = scopes
        self.groups = groups
        self.ttlSeconds = ttlSeconds
        self.audience = audience
    }
}

/// Airlock's own `alk_` API tokens, for admins: created (the secret shown once), listed (never a secret), revoked
/// (refused from the next request on). The HTTP routes and `airlock token` call the same checks.
///
/// A token is a service principal (with the `service` scope), and services approve nothing unless a requirement
/// says `including services`; so a token may not be put in a group that the policies use as approvers unless some
/// requirement on that group includes services (``checkGroups(_:against:)``).
public struct ApiTokens: Sendable {
    public let store: ApiTokenStore
    /// The policies whose approver groups a new token's groups are checked against (the active set).
    let policies: @Sendable () throws -> PolicySet

    /// The longest lifetime a token may be given: 366 days.
    public static let maximumTTLSeconds: Int64 = 366 * 24 * 3600
    public static let maximumNameLength = 64
    public static let maximumGroups = 64
    public static let maximumGroupLength = 64
    public static let maximumAudienceLength = 256

    /// Tokens in `store`, their groups checked against the active set of `policies`.
    public init(store: ApiTokenStore, policies: LoadedPolicies) {
        self.init(store: store, policies: { policies.active.policies })
    }

    /// Tokens in `store`, their groups checked against what `policies` returns (it throws when the policies cannot
    /// be read; a token with groups is then refused).
    public init(store: ApiTokenStore, policies: @escaping @Sendable () throws -> PolicySet) {
        self.store = store
        self.policies = policies
    }

    /// Checks `token` and creates it, audited with `actor`. Returns the record and the secret (shown once).
    public func create(_ token: NewApiToken, by actor: String, logger: Logger) async throws -> (record: ApiTokenRecord, secret: String) {
        let scopes = try Self.validate(token)
        if !token.groups.isEmpty {
            let policies: PolicySet
            do {
                policies = try self.policies()
            } catch {
                throw BrokerError.invalidInput(
                    "cannot check the token's groups against the policies (\(BrokerError.shown("\(error)"))); "
                        + "create it without groups or fix the policies")
            }
            try Self.checkGroups(token.groups, against: policies)
        }
        let created = try await store.create(
            name: token.name, scopes: scopes.map(\.rawValue), groups: token.groups,
            ttl: token.ttlSeconds.map(TimeInterval.init), audience: token.audience, actor: actor, logger: logger)
        guard let record = try await store.get(id: created.id, logger: logger) else {
            // Created in a committed transaction just above; only a concurrent hard delete could get here.
            throw StoreError(code: "token_vanished", message: "the new token vanished; see the audit log")
        }
        return (record, created.token)
    }

    /// Every token, newest first, revoked ones included; never a secret or its hash.
    public func list(logger: Logger) async throws -> [ApiTokenRecord] {
        try await store.list(logger: logger)
    }

    /// Revokes the token `id` now (idempotent: an already revoked token says so).
    public func revoke(_ id: UUID, by actor: String, logger: Logger) async throws -> ApiTokenStore.Revocation {
        let outcome = try await store.revoke(id: id, actor: actor, logger: logger)
        if outcome == .notFound { throw BrokerError.notFound("no such api token") }
        return outcome
    }

    /// The checks of a new token; its scopes, parsed and without duplicates.
    public static func validate(_ token: NewApiToken) throws(BrokerError) -> [ApiTokenScope] {
        guard !token.name.isEmpty, token.name.unicodeScalars.count <= maximumNameLength else {
            throw .invalidInput("`name` must be 1 to \(maximumNameLength) characters")
        }
        // Blank: white space code points only (a space with a combining mark is not blank).
        guard !token.name.unicodeScalars.allSatisfy(\.properties.isWhitespace) else {
            throw .invalidInput("`name` must not be blank")
        }
        guard !token.name.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
            throw .invalidInput("`name` contains control characters")
        }
        guard !token.scopes.isEmpty else { throw .invalidInput("a token needs at least one scope") }
        var scopes: [ApiTokenScope] = []
        for name in token.scopes {
            guard let scope = ApiTokenScope(rawValue: name) else {
                let known = ApiTokenScope.allCases.map(\.rawValue).joined(separator: ", ")
                throw .invalidInput("unknown scope `\(BrokerError.shown(name))`; known scopes: \(known)")
            }
            if !scopes.contains(scope) { scopes.append(scope) }
        }
        guard token.groups.count <= maximumGroups else { throw .invalidInput("at most \(maximumGroups) groups") }
        for name in token.groups where !isGroupName(name) {
            throw .invalidInput("group `\(BrokerError.shown(name))` must match `^[a-z0-9][a-z0-9_-]{0,63}$`")
        }
        if let ttl = token.ttlSeconds, !(1...maximumTTLSeconds).contains(ttl) {
            throw .invalidTTL(maximum: maximumTTLSeconds)
        }
        if scopes.contains(.introspect) {
            guard let audience = token.audience else {
                throw .invalidInput(
                    "a token with the `introspect` scope needs an `audience`: the `token` resource audience it introspects for")
            }
            guard !audience.isEmpty, audience.unicodeScalars.count <= maximumAudienceLength,
                  !audience.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }),
                  !audience.unicodeScalars.allSatisfy(\.properties.isWhitespace) else {
                throw .invalidInput("`audience` must be 1 to \(maximumAudienceLength) characters, not blank, no control characters")
            }
        } else if token.audience != nil {
            throw .invalidInput("`audience` is only for tokens with the `introspect` scope")
        }
        return scopes
    }

    /// Refuses groups that `policies` use as approvers, unless some requirement on that group includes services:
    /// a token is a service, and services approve only where a rule says `including services`.
    public static func checkGroups(_ groups: [String], against policies: PolicySet) throws(BrokerError) {
        for group in groups {
            // Groups named by an attribute (`group(resource.owner)`) are not known here; services count toward
            // them only under `including services` all the same (ApprovalMatcher).
            let approving = policies.rules.filter { rule in rule.approvers.contains { $0.fixedGroup == group } }
            guard let rule = approving.first else { continue }
            let servicesAllowed = approving.contains { rule in
                rule.approvers.contains { $0.fixedGroup == group && $0.includesServices }
            }
            guard servicesAllowed else {
                throw .invalidInput(
                    "group `\(group)` approves requests (rule `\(BrokerError.shown(rule.id))`) and only people approve "
                        + "there; a token cannot be in it unless a requirement says "
                        + "`group(\"\(group)\") including services`")
            }
        }
    }

    /// Lower-case ASCII letters, digits, `-` and `_`, starting with a letter or digit, at most 64 characters.
    public static func isGroupName(_ name: String) -> Bool {
        let bytes = Array(name.utf8)
        guard let first = bytes.first, bytes.count <= maximumGroupLength else { return false }
        func isLowerOrDigit(_ byte: UInt8) -> Bool { (0x61...0x7A).contains(byte) || (0x30...0x39).contains(byte) }
        return isLowerOrDigit(first) && bytes.allSatisfy { isLowerOrDigit($0) || $0 == 0x2D || $0 == 0x5F }
    }
}
