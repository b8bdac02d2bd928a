import AirlockCore
import Foundation
import Logging
import PostgresNIO

/// Airlock's own `alk_` API tokens in the `api_tokens` table (rows of kind `airlock`).
///
/// Only the SHA-256 of a token is stored. A token is found by an index lookup on that hash, so there is no
/// byte-by-byte comparison of secrets in Airlock at all: a timing difference could only reveal something
/// about a hash of the token, never the token, which is what a constant-time comparison would protect.
public struct ApiTokenStore: Sendable {
    /// The outcome of ``authenticate(_:logger:)``.
    public enum Authentication: Sendable, Equatable {
        /// The token is valid; the record as it was before this use.
        case authenticated(ApiTokenRecord)
        /// No such token (`unknown_token`).
        case unknown
        /// The token was revoked (`token_revoked`).
        case revoked
        /// The token's lifetime is over (`token_expired`).
        case expired
    }

    /// The outcome of ``revoke(id:actor:logger:)``.
    public enum Revocation: Sendable, Equatable {
        /// Revoked now.
        case revoked
        /// It had been revoked before; nothing changed.
        case alreadyRevoked
        /// No token has that id.
        case notFound
    }

    /// How stale `last_used_at` may get before a use writes it again.
    public static let lastUsedResolution: TimeInterval = 60

    private let database: Database
    private let auditLog: AuditLog
    private let clock: any WallClock
    private let cache: TokenCache<ApiTokenRecord>?
    private let unknownCache: TokenCache<UnknownToken>?
    private let barrier: RevocationBarrier

    /// Creates a store; `auditLog` records creations and revocations, `clock` stamps and expires tokens.
    /// With `caches` (kept live by a running ``TokenChangeListener``), authentications and unknown tokens are
    /// remembered, and a revocation made here clears them before it returns. Every revocation returns only once
    /// every live broker has dropped the token (`barrier`).
    public init(
        database: Database, auditLog: AuditLog, clock: any WallClock = SystemWallClock(), caches: TokenCaches? = nil,
        barrier: RevocationBarrier = RevocationBarrier()
    ) {
        self.database = database
        self.auditLog = auditLog
        self.clock = clock
        self.cache = caches?.apiTokens
        self.unknownCache = caches?.unknownApiTokens
        self.barrier = barrier
    }

    /// Creates a token and returns its id and the token itself, which exists nowhere else afterwards: show it
    /// once. `ttl` nil means no expiry. Records `airlock.token.created` (without the secret) in the same
    /// transaction. Throws `StoreError` `invalid_scope` for an unknown scope or none, `invalid_ttl` for ttl ≤ 0.
    /// `audience` is that of an `introspect` token (``ApiTokenRecord/audience``).
    public func create(
        name: String, scopes: [String], groups: [String] = [], ttl: TimeInterval? = nil, audience: String? = nil,
        actor: String = "cli", logger: Logger
    ) async throws -> (id: UUID, token: String) {
        let parsedScopes = try Self.validate(scopes: scopes)
        if let ttl, !(ttl > 0) {
            throw StoreError(code: "invalid_ttl", message: "a token's ttl must be positive")
        }
        let id = UUID()
        let token = ApiTokenFormat.generate(prefix: .airlock)
        let hash = Data(ApiTokenFormat.hash(token))
        let now = clock.now()
        let expiresAt = ttl.map { now.addingTimeInterval($0) }
        let scopeNames = parsedScopes.map(\.rawValue)
        let groupNames = Self.unique(groups)
        var data: [String: JSONValue] = [
            "token_id": .string(id.uuidString.lowercased()), "name": .string(name), "actor": .string(actor),
            "scopes": .array(scopeNames.map { .string($0) }), "groups": .array(groupNames.map { .string($0) }),
        ]
        if let expiresAt { data["expires_at"] = .string(AuditTime.format(expiresAt)) }
        if let audience { data["audience"] = .string(audience) }
        let event = NewAuditEvent(
            type: "airlock.token.created", subject: id.uuidString.lowercased(), severity: .low, data: data)
        try await database.client.withTransaction(logger: logger) { connection in
            try await connection.query(
                """
                INSERT INTO api_tokens (id, kind, name, token_hash, scopes, groups, created_at, expires_at, audience)
                VALUES (\(id), 'airlock', \(name), \(hash), \(scopeNames), \(groupNames), \(now), \(expiresAt),
                        \(audience))
                """, logger: logger)
            try await auditLog.append(event, on: connection, logger: logger)
        }
        unknownCache?.clear()  // the insert notifies every broker (`created`); this one forgets at once
        return (id, token)
    }

    /// Looks `token` up by its hash and says whether it may be used. A valid use refreshes `last_used_at` when
    /// it is more than ``lastUsedResolution`` old, so a busy token costs one write a minute, not one per request.
    /// A string that is not a well-formed `alk_` token is `.unknown` without touching the database, and so is a
    /// token the database did not know a moment ago (the unknown-token cache, cleared whenever a token is created).
    public func authenticate(_ token: String, logger: Logger) async throws -> Authentication {
        guard let parsed = ApiTokenFormat.parse(token), parsed.prefix == .airlock else { return .unknown }
        let hash = Data(parsed.hash)
        if unknownCache?.value(for: hash) != nil { return .unknown }
        let generation = cache?.generation ?? 0
        let unknownGeneration = unknownCache?.generation ?? 0
        var found = cache?.value(for: hash)
        let cached = found != nil
        if !cached {
            for try await row in try await database.client.execute(ApiTokenByHash(hash: hash), logger: logger) {
                found = Self.record(row)
            }
        }
        guard var record = found else {
            unknownCache?.store(UnknownToken(), for: hash, generation: unknownGeneration)
            return .unknown
        }
        if record.revokedAt != nil { return .revoked }
        let now = clock.now()
        if let expiresAt = record.expiresAt, expiresAt <= now { return .expired }
        let used = record
        if record.lastUsedAt.map({ now.timeIntervalSince($0) >= Self.lastUsedResolution }) ?? true {
            try await database.client.query(
                "UPDATE api_tokens SET last_used_at = \(now) WHERE id = \(record.id)", logger: logger)
            record.lastUsedAt = now
        }
        if cached {
            cache?.refresh(record, for: hash)
        } else {
            cache?.store(record, for: hash, generation: generation)
        }
        return .authenticated(used)
    }

    /// Revokes the token `id` at once, recording `airlock.token.revoked` in the same transaction, and returns once
    /// every live broker has dropped it (``RevocationBarrier``: a broker that does not acknowledge in time is named
    /// in the log, its caches switched off, and waited out).
    @discardableResult
    public func revoke(id: UUID, actor: String = "cli", logger: Logger) async throws -> Revocation {
        let now = clock.now()
        let (outcome, barrierNonce) = try await database.client.withTransaction(logger: logger) {
            connection -> (Revocation, UUID?) in
            let rows = try await connection.query(
                "SELECT name, revoked_at FROM api_tokens WHERE id = \(id) AND kind = 'airlock' FOR UPDATE",
                logger: logger)
            var found: (String, Date?)?
            for try await row in rows.decode((String, Date?).self) { found = row }
            guard let (name, revokedAt) = found else { return (Revocation.notFound, nil) }
            if revokedAt != nil { return (Revocation.alreadyRevoked, nil) }
            try await connection.query("UPDATE api_tokens SET revoked_at = \(now) WHERE id = \(id)", logger: logger)
            let event = NewAuditEvent(
                type: "airlock.token.revoked", subject: id.uuidString.lowercased(), severity: .low,
                data: ["token_id": .string(id.uuidString.lowercased()), "name": .string(name), "actor": .string(actor)])
            try await auditLog.append(event, on: connection, logger: logger)
            return (Revocation.revoked, try await RevocationBarrier.raise(on: connection, logger: logger))
        }
        cache?.clear()  // after the commit, before returning: the next use through this broker is refused
        if let barrierNonce {
            _ = await barrier.awaitBrokers(
                nonce: barrierNonce, committedBefore: .now, database: database, logger: logger)
        }
        return outcome
    }

    /// Every Airlock API token, newest first, revoked ones included; never a secret (Airlock has none to show).
    public func list(logger: Logger) async throws -> [ApiTokenRecord] {
        let rows = try await database.client.query(
            """
            SELECT id, name, scopes, groups, created_at, expires_at, last_used_at, revoked_at, audience
            FROM api_tokens WHERE kind = 'airlock' ORDER BY created_at DESC, id
            """, logger: logger)
        var records: [ApiTokenRecord] = []
        for try await row in rows.decode((UUID, String, [String], [String], Date, Date?, Date?, Date?, String?).self) {
            records.append(Self.record(row))
        }
        return records
    }

    /// The token `id` (revoked or not), or nil when there is none; never a secret.
    public func get(id: UUID, logger: Logger) async throws -> ApiTokenRecord? {
        let rows = try await database.client.query(
            """
            SELECT id, name, scopes, groups, created_at, expires_at, last_used_at, revoked_at, audience
            FROM api_tokens WHERE id = \(id) AND kind = 'airlock'
            """, logger: logger)
        var found: ApiTokenRecord?
        for try await row in rows.decode((UUID, String, [String], [String], Date, Date?, Date?, Date?, String?).self) {
            found = Self.record(row)
        }
        return found
    }

    /// The scopes named by `names`, deduplicated in order; at least one, each one Airlock knows.
    public static func validate(scopes names: [String]) throws(StoreError) -> [ApiTokenScope] {
        guard !names.isEmpty else {
            throw StoreError(code: "invalid_scope", message: "a token needs at least one scope")
        }
        var scopes: [ApiTokenScope] = []
        for name in names {
            guard let scope = ApiTokenScope(rawValue: name) else {
                let known = ApiTokenScope.allCases.map(\.rawValue).joined(separator: ", ")
                throw StoreError(code: "invalid_scope", message: "unknown scope `\(name)`; known scopes: \(known)")
            }
            if !scopes.contains(scope) { scopes.append(scope) }
        }
        return scopes
    }

    private static func unique(_ values: [String]) -> [String] {
        var seen = Set<String>()
        return values.filter { seen.insert($0).inserted }
    }

    private static func record(
        _ row: (UUID, String, [String], [String], Date, Date?, Date?, Date?, String?)
    ) -> ApiTokenRecord {
        ApiTokenRecord(
            id: row.0, name: row.1, scopes: row.2.compactMap(ApiTokenScope.init(rawValue:)), groups: row.3,
            createdAt: row.4, expiresAt: row.5, lastUsedAt: row.6, revokedAt: row.7, audience: row.8)
    }
}

/// The `alk_` lookup on the hash index, prepared once per connection (it runs on every API call).
struct ApiTokenByHash: PostgresPreparedStatement {
    static let name = "airlock_api_token_by_hash_v2"
    static let sql = """
        SELECT id, name, scopes, groups, created_at, expires_at, last_used_at, revoked_at, audience
        FROM api_tokens WHERE token_hash = $1 AND kind = 'airlock'
        """
    typealias Row = (UUID, String, [String], [String], Date, Date?, Date?, Date?, String?)

    let hash: Data

    func makeBindings() throws -> PostgresBindings {
        var bindings = PostgresBindings()
        try bindings.append(hash)
        return bindings
    }

    func decodeRow(_ row: PostgresRow) throws -> Row {
        try row.decode(Row.self)
    }
}
