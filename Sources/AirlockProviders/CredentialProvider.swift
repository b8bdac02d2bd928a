import AirlockCore
import Foundation

/// Something that mints and revokes short-lived credentials for one kind of ``AirlockCore/Resource``.
///
/// Implementations must be safe to call concurrently, from several replicas at once: ``prepare(resource:role:)``
/// and ``mint(resource:role:leaseID:validUntil:)`` may race with themselves, and ``revoke(resource:identifier:)``
/// must be idempotent (revoking what is already gone succeeds).
public protocol CredentialProvider: Sendable {
    /// What ``mint(resource:role:leaseID:validUntil:)`` returns: shown once to its owner, never stored.
    associatedtype Credential: IssuedCredential

    /// Brings whatever the role template needs on the target (for PostgreSQL: the group role and its grants) in
    /// step with the template. Idempotent; ``mint(resource:role:leaseID:validUntil:)`` calls it as needed.
    func prepare(resource: Resource, role: String) async throws

    /// Mints a credential for `role` of `resource` that stops working at `validUntil`.
    func mint(resource: Resource, role: String, leaseID: UUID, validUntil: Date) async throws -> Credential

    /// Revokes the credential named `identifier`, removing as much access as possible even when a step fails.
    func revoke(resource: Resource, identifier: String) async throws -> RevocationOutcome
}

/// A credential a provider has issued.
public protocol IssuedCredential: Sendable, CustomStringConvertible, CustomDebugStringConvertible {
    /// The name the credential is revoked by (a PostgreSQL role name, a token id). Not secret.
    var identifier: String { get }
    /// When the credential stops working on its own.
    var expiresAt: Date { get }
}

/// A failure of a provider. Its message never holds a password, token or verifier.
public struct ProviderError: Error, CustomStringConvertible, Sendable, Equatable {
    /// A stable machine-readable code such as `target_unreachable` or `invalid_identifier`.
    public var code: String
    /// One line for an operator.
    public var message: String

    /// Creates an error. Any of `secrets` found in `message` is replaced by `***` (a last line of defence:
    /// callers build messages from non-secret parts).
    public init(code: String, message: String, redacting secrets: [String] = []) {
        var message = message
        for secret in secrets where !secret.isEmpty {
            message = message.replacingOccurrences(of: secret, with: "***")
        }
        self.code = code
        self.message = message
    }

    /// `code: message`.
    public var description: String { "\(code): \(message)" }
}

/// What a revocation did, step by step.
public struct RevocationOutcome: Sendable, Equatable, CustomStringConvertible {
    /// One step of a revocation.
    public enum Step: String, Sendable, Hashable, CaseIterable {
        /// `ALTER ROLE … NOLOGIN`.
        case disableLogin = "disable_login"
        /// `pg_terminate_backend` of the role's sessions.
        case terminateSessions = "terminate_sessions"
        /// `REASSIGN OWNED BY … TO CURRENT_USER` and `DROP OWNED BY …` in the target database.
        case dropOwned = "drop_owned"
        /// `DROP ROLE IF EXISTS`.
        case dropRole = "drop_role"
    }

    /// The revoked name.
    public var identifier: String
    /// Steps that failed, with a message each (never a secret).
    public var failures: [Step: String]
    /// Sessions that were terminated.
    public var terminatedSessions: Int
    /// Whether the role still existed when revocation started (false: it had already been revoked).
    public var existed: Bool

    /// Creates an outcome.
    public init(identifier: String, failures: [Step: String] = [:], terminatedSessions: Int = 0, existed: Bool) {
        self.identifier = identifier
        self.failures = failures
        self.terminatedSessions = terminatedSessions
        self.existed = existed
    }

    /// Whether every step succeeded: the credential is gone. Otherwise revocation must be retried.
    public var isComplete: Bool { failures.isEmpty }

    /// A one-line summary.
    public var description: String {
        if isComplete {
            return "revoked \(identifier) (existed: \(existed), sessions terminated: \(terminatedSessions))"
        }
        let failed = Step.allCases.compactMap { step in failures[step].map { "\(step.rawValue): \($0)" } }
        return "revocation of \(identifier) incomplete: " + failed.joined(separator: "; ")
    }
}
