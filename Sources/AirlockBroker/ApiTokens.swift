import AirlockCore
import AirlockStore
import Foundation
import Logging

/// What an admin asks for when creating an `alk_` API token.
public struct NewApiToken: Sendable, Hashable {
    /// 1 to 64 characters, not blank, no control characters. The token acts as principal `token:<name>`.
    public var name: String
    /// At least one of `admin`, `auditor`, `service`, `introspect`.
    public var scopes: [String]
    /// At most 64, each `^[a-z0-9][a-z0-9_-]{0,63}$`.
    public var groups: [String]
    /// 1 to ``ApiTokens/maximumTTLSeconds``; nil: the token does not expire.
    public var ttlSeconds: Int64?

    public init(name: String, scopes: [String], groups: [String] = [], ttlSeconds: Int64? = nil) {
        self.name = name
        self.scopes = scopes
        self.groups = groups
        self.ttlSeconds = ttlSeconds
    }
}

/// Airlock's own `alk_` API tokens, for admins: created (the secret shown once), listed (never a secret), revoked
/// (refused from the next request on). The HTTP routes and `airlock token` call the same checks.
public struct ApiTokens: Sendable {
    public let store: ApiTokenStore

    /// The longest lifetime a token may be given: 366 days.
    public static let maximumTTLSeconds: Int64 = 366 * 24 * 3600
    public static let maximumNameLength = 64
    public static let maximumGroups = 64
    public static let maximumGroupLength = 64

    public init(store: ApiTokenStore) {
        self.store = store
    }

    /// Checks `token` and creates it, audited with `actor`. Returns the record and the secret (shown once).
    public func create(_ token: NewApiToken, by actor: String, logger: Logger) async throws -> (record: ApiTokenRecord, secret: String) {
        let scopes = try Self.validate(token)
        let created = try await store.create(
            name: token.name, scopes: scopes.map(\.rawValue), groups: token.groups,
            ttl: token.ttlSeconds.map(TimeInterval.init), actor: actor, logger: logger)
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
        return scopes
    }

    /// Lower-case ASCII letters, digits, `-` and `_`, starting with a letter or digit, at most 64 characters.
    public static func isGroupName(_ name: String) -> Bool {
        let bytes = Array(name.utf8)
        guard let first = bytes.first, bytes.count <= maximumGroupLength else { return false }
        func isLowerOrDigit(_ byte: UInt8) -> Bool { (0x61...0x7A).contains(byte) || (0x30...0x39).contains(byte) }
        return isLowerOrDigit(first) && bytes.allSatisfy { isLowerOrDigit($0) || $0 == 0x2D || $0 == 0x5F }
    }
}
