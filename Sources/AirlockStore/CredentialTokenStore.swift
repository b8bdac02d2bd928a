import AirlockCore
import Foundation
import Logging
import PostgresNIO

/// What introspection tells a resource server about an active `alkc_` credential token.
public struct ActiveCredentialToken: Sendable, Hashable {
    public let id: UUID
    public let scopes: [String]
    public let audience: String
    public let subject: String
    public let leaseID: UUID
    public let issuedAt: Date
    public let expiresAt: Date
}

/// Looks up `alkc_` credential tokens by their hash for introspection (RFC 7662).
///
/// A token is active only while its row is unrevoked and unexpired and its lease is `active`, checked in one
/// prepared statement on the `token_hash` index (prepared once per connection, so the hot path skips parsing and
/// planning). With `caches`, active answers are remembered until a token change is notified (see ``TokenCache``);
/// the expiry is checked on every call.
public struct CredentialTokenStore: Sendable {
    let database: Database
    let clock: any WallClock
    let logger: Logger
    let cache: TokenCache<ActiveCredentialToken>?

    /// Creates the store.
    public init(database: Database, clock: any WallClock = SystemWallClock(), caches: TokenCaches? = nil, logger: Logger) {
        self.database = database
        self.clock = clock
        self.cache = caches?.credentialTokens
        self.logger = logger
    }

    /// The active token `text`, or nil for anything else: malformed, not an `alkc_` token, a bad checksum,
    /// unknown, revoked, expired, or with a lease that is no longer active. Malformed tokens never reach the
    /// database.
    public func active(_ text: String) async throws -> ActiveCredentialToken? {
        guard let parsed = ApiTokenFormat.parse(text), parsed.prefix == .credential else { return nil }
        let hash = Data(parsed.hash)
        let now = clock.now()
        if let known = cache?.value(for: hash) { return known.expiresAt > now ? known : nil }
        let generation = cache?.generation ?? 0
        for try await row in try await database.client.execute(ActiveTokenQuery(hash: hash, now: now), logger: logger) {
            let active = ActiveCredentialToken(
                id: row.0, scopes: row.1, audience: row.2 ?? "", subject: row.3 ?? "", leaseID: row.4,
                issuedAt: row.5, expiresAt: row.6)
            cache?.store(active, for: hash, generation: generation)
            return active
        }
        return nil
    }
}

/// The introspection lookup as a prepared statement.
struct ActiveTokenQuery: PostgresPreparedStatement {
    static let name = "airlock_active_credential_token_v1"
    static let sql = """
        SELECT t.id, t.scopes, t.audience, t.subject, t.lease_id, t.created_at, t.expires_at
        FROM api_tokens t JOIN leases l ON l.id = t.lease_id
        WHERE t.token_hash = $1 AND t.kind = 'credential' AND t.revoked_at IS NULL AND t.expires_at > $2
          AND l.status = 'active'
        """
    typealias Row = (UUID, [String], String?, String?, UUID, Date, Date)

    let hash: Data
    let now: Date

    func makeBindings() throws -> PostgresBindings {
        var bindings = PostgresBindings()
        try bindings.append(hash)
        bindings.append(now)
        return bindings
    }

    func decodeRow(_ row: PostgresRow) throws -> Row {
        try row.decode(Row.self)
    }
}
