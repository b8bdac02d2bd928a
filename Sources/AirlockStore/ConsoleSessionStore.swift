import AirlockCore
import Crypto
import Foundation
import Logging
import PostgresNIO

/// A person signed in to the approver console, as their session row holds them (migration 0024).
public struct ConsoleSession: Sendable, Hashable {
    public var principalID: String
    /// The `iss` of the ID token they signed in with.
    public var issuer: String
    public var groups: [String]
    public var email: String?
    public var manager: String?
    public var onCall: Bool
    /// When they last proved a second factor, if the ID token said so.
    public var mfaAt: Date?
    /// `admin` and `auditor`, as `console.admin_groups` and `console.auditor_groups` gave them at sign-in.
    public var roles: Set<String>
    public var createdAt: Date
    public var expiresAt: Date

    public init(
        principalID: String, issuer: String, groups: [String], email: String?, manager: String?, onCall: Bool,
        mfaAt: Date?, roles: Set<String>, createdAt: Date, expiresAt: Date
    ) {
        self.principalID = principalID
        self.issuer = issuer
        self.groups = groups
        self.email = email
        self.manager = manager
        self.onCall = onCall
        self.mfaAt = mfaAt
        self.roles = roles
        self.createdAt = createdAt
        self.expiresAt = expiresAt
    }

    /// The principal this session acts as at `now`: a person authenticated by `issuer`, whose `mfa_age` counts from
    /// the sign-in's second factor, with the console roles as scopes.
    public func principal(at now: Date) -> Principal {
        Principal(
            id: principalID, kind: .user, groups: groups, email: email,
            mfaAgeSeconds: mfaAt.map { max(0, Int64(now.timeIntervalSince($0).rounded(.down))) }, onCall: onCall,
            manager: manager, scopes: roles, credential: .jwt(issuer: issuer))
    }
}

/// A sign-in begun at the console and not yet finished: what the callback needs to finish it.
public struct ConsoleSignInAttempt: Sendable, Hashable {
    /// The PKCE `code_verifier` (RFC 7636) sent with the authorization code.
    public var codeVerifier: String
    /// The `nonce` the ID token must carry.
    public var nonce: String
    /// The console path to return to once signed in.
    public var returnTo: String

    public init(codeVerifier: String, nonce: String, returnTo: String) {
        self.codeVerifier = codeVerifier
        self.nonce = nonce
        self.returnTo = returnTo
    }
}

/// Console sign-ins and sessions in PostgreSQL, found only by the SHA-256 of the secret the browser holds, so that
/// every replica serves every session and a copy of the tables signs nobody in.
public struct ConsoleSessionStore: Sendable {
    let database: Database
    let clock: any WallClock
    let logger: Logger

    /// How long a sign-in may take, from the redirect to the identity provider to the callback.
    public static let signInLifetime: TimeInterval = 600

    public init(database: Database, clock: any WallClock = SystemWallClock(), logger: Logger) {
        self.database = database
        self.clock = clock
        self.logger = logger
    }

    /// The SHA-256 of a secret, as the tables hold it.
    static func digest(_ secret: String) -> Data {
        Data(SHA256.hash(data: Data(secret.utf8)))
    }

    /// Records a sign-in under `state` (the browser's secret); prunes expired sign-ins and sessions.
    public func begin(_ signIn: ConsoleSignInAttempt, state: String) async throws {
        let now = clock.now()
        let expires = now.addingTimeInterval(Self.signInLifetime)
        let hash = Self.digest(state)
        try await database.client.withTransaction(logger: logger) { connection in
            try await connection.query("DELETE FROM console_sign_ins WHERE expires_at <= \(now)", logger: logger)
            try await connection.query("DELETE FROM console_sessions WHERE expires_at <= \(now)", logger: logger)
            try await connection.query("""
                INSERT INTO console_sign_ins (state_hash, code_verifier, nonce, return_to, created_at, expires_at)
                VALUES (\(hash), \(signIn.codeVerifier), \(signIn.nonce), \(signIn.returnTo), \(now), \(expires))
                """, logger: logger)
        }
    }

    /// Takes the sign-in recorded under `state`, once: nil when there is none, it was taken, or it expired.
    public func take(state: String) async throws -> ConsoleSignInAttempt? {
        let now = clock.now()
        let rows = try await database.client.query("""
            DELETE FROM console_sign_ins WHERE state_hash = \(Self.digest(state)) AND expires_at > \(now)
            RETURNING code_verifier, nonce, return_to
            """, logger: logger)
        for try await (verifier, nonce, returnTo) in rows.decode((String, String, String).self) {
            return ConsoleSignInAttempt(codeVerifier: verifier, nonce: nonce, returnTo: returnTo)
        }
        return nil
    }

    /// Records `session` under `id` (the random value of the browser's cookie).
    public func create(_ session: ConsoleSession, id: String) async throws {
        try await database.client.query("""
            INSERT INTO console_sessions (id_hash, principal_id, issuer, groups, email, manager, on_call, mfa_at,
                                          roles, created_at, expires_at)
            VALUES (\(Self.digest(id)), \(session.principalID), \(session.issuer), \(session.groups), \(session.email),
                    \(session.manager), \(session.onCall), \(session.mfaAt), \(session.roles.sorted()),
                    \(session.createdAt), \(session.expiresAt))
            """, logger: logger)
    }

    /// The live session under `id`, or nil (none, signed out, or expired).
    public func session(id: String) async throws -> ConsoleSession? {
        let now = clock.now()
        let rows = try await database.client.query("""
            SELECT principal_id, issuer, groups, email, manager, on_call, mfa_at, roles, created_at, expires_at
            FROM console_sessions WHERE id_hash = \(Self.digest(id)) AND expires_at > \(now)
            """, logger: logger)
        for try await (principal, issuer, groups, email, manager, onCall, mfaAt, roles, created, expires) in rows.decode(
            (String, String, [String], String?, String?, Bool, Date?, [String], Date, Date).self)
        {
            return ConsoleSession(
                principalID: principal, issuer: issuer, groups: groups, email: email, manager: manager, onCall: onCall,
                mfaAt: mfaAt, roles: Set(roles), createdAt: created, expiresAt: expires)
        }
        return nil
    }

    /// Ends the session under `id` (signing out): its cookie signs nobody in any more.
    public func end(id: String) async throws {
        try await database.client.query(
            "DELETE FROM console_sessions WHERE id_hash = \(Self.digest(id))", logger: logger)
    }
}
