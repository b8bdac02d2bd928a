import Foundation

/// Mints, extends and revokes the credentials of one kind of ``Resource`` (its ``kind``). The broker finds a
/// provider in ``CredentialProviders`` by the resource's kind and never asks which kind it is: adding a kind is a
/// new provider and one registration line where the server wires the broker.
///
/// Implementations must be safe to call concurrently, from several replicas at once. ``revoke(_:on:)`` must be
/// idempotent (revoking what is already gone succeeds).
public protocol CredentialProvider: Sendable {
    /// The kind of resource this provider issues credentials for.
    var kind: Resource.Kind { get }

    /// Mints the credential of a lease that has been written as `issuing` (intent first). Nothing about the
    /// credential is stored by the provider beyond what the target itself keeps.
    func mint(_ request: MintRequest) async throws -> MintedCredential

    /// Moves the credential's own expiry to `until`, where the target enforces one (a PostgreSQL `VALID UNTIL`);
    /// a no-op where the broker's lease is the only expiry.
    func extend(_ credential: LeaseCredential, on resource: Resource, until: Date) async throws

    /// Removes the credential, as much of it as possible even when a step fails; idempotent.
    func revoke(_ credential: LeaseCredential, on resource: Resource) async throws -> RevocationOutcome

    /// What an interrupted issuance of `leaseID` left on the target (a login created before the lease recorded
    /// its name), by the name to revoke; nil when nothing is there.
    func leftover(of leaseID: UUID, on resource: Resource) async throws -> String?

    /// Checks a resource of this kind as the catalog declares it (its `settings` and role templates), at load:
    /// a resource this provider could not serve stops the broker from starting. Throws ``ProviderError``.
    func validate(_ resource: Resource) throws
}

extension CredentialProvider {
    /// The catalog reader has checked the built-in kinds already.
    public func validate(_ resource: Resource) throws {}
}

/// What a provider is asked to mint.
public struct MintRequest: Sendable, Hashable {
    public var resource: Resource
    /// The role template.
    public var role: String
    public var leaseID: UUID
    /// The principal the credential is for.
    public var subject: String
    /// When the credential must stop working.
    public var expiresAt: Date

    public init(resource: Resource, role: String, leaseID: UUID, subject: String, expiresAt: Date) {
        self.resource = resource
        self.role = role
        self.leaseID = leaseID
        self.subject = subject
        self.expiresAt = expiresAt
    }
}

/// What a lease records of its credential: how to find it again to extend or revoke it. Not secret.
public struct LeaseCredential: Sendable, Hashable {
    public var leaseID: UUID
    /// The login's name on the target (nil for tokens, and for an issuance interrupted before it was recorded).
    public var username: String?
    /// The `alkc_` token's id, for token credentials.
    public var tokenID: UUID?

    public init(leaseID: UUID, username: String? = nil, tokenID: UUID? = nil) {
        self.leaseID = leaseID
        self.username = username
        self.tokenID = tokenID
    }
}

/// A credential just minted: shown once to its owner, never stored, never logged.
///
/// `description`, `debugDescription` and reflection hide ``secretFields`` (and the token); read them explicitly
/// to hand them over.
public struct MintedCredential: Sendable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    /// The lease it belongs to.
    public var leaseID: UUID
    /// When it stops working on its own.
    public var expiresAt: Date
    /// The login's name on the target, recorded on the lease so revocation can find it. Not secret.
    public var username: String?
    /// A token Airlock itself recognises: the activation statement stores its hash (never the secret).
    public var token: CredentialToken?
    /// What the owner is given, by field name (`username`, `password`, `dsn`, `token`, …). Holds secrets.
    public var secretFields: [String: JSONValue]

    public init(
        leaseID: UUID, expiresAt: Date, username: String? = nil, token: CredentialToken? = nil,
        secretFields: [String: JSONValue]
    ) {
        self.leaseID = leaseID
        self.expiresAt = expiresAt
        self.username = username
        self.token = token
        self.secretFields = secretFields
    }

    /// What the lease records of it.
    public var recorded: LeaseCredential { LeaseCredential(leaseID: leaseID, username: username, tokenID: token?.id) }

    public var description: String {
        "credential for lease \(leaseID.uuidString.lowercased()) (fields: \(secretFields.keys.sorted().joined(separator: ", ")); redacted)"
    }

    public var debugDescription: String { description }

    public var customMirror: Mirror { Mirror(self, children: ["description": description]) }
}

/// The credential providers of one broker, by the kind of resource they issue for: the only place a kind is
/// looked up.
public struct CredentialProviders: Sendable {
    private let byKind: [Resource.Kind: any CredentialProvider]

    /// Registers `providers`; a later provider of the same kind replaces an earlier one.
    public init(_ providers: [any CredentialProvider]) {
        var byKind: [Resource.Kind: any CredentialProvider] = [:]
        for provider in providers { byKind[provider.kind] = provider }
        self.byKind = byKind
    }

    /// The provider for `resource`.
    public func provider(for resource: Resource) -> (any CredentialProvider)? { byKind[resource.kind] }

    /// The kinds registered.
    public var kinds: Set<Resource.Kind> { Set(byKind.keys) }

    /// Checks that every resource of `catalog` has a provider here and that its provider accepts it.
    public func validate(_ catalog: ResourceCatalog) throws {
        for resource in catalog.resources {
            guard let provider = byKind[resource.kind] else {
                throw ProviderError(
                    code: "unknown_kind", message: "resource `\(resource.id)`: no credential provider for kind `\(resource.kind)`")
            }
            do {
                try provider.validate(resource)
            } catch let error as ProviderError {
                throw ProviderError(code: error.code, message: "resource `\(resource.id)`: \(error.message)")
            }
        }
    }

    /// The resources of `catalog` this broker can issue for, with their kinds (what a pickup may claim).
    public func issuable(in catalog: ResourceCatalog) -> [String: Resource.Kind] {
        catalog.kinds.filter { byKind[$0.value] != nil }
    }
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
        /// `ALTER ROLE … NOLOGIN`, and `REVOKE` of every role it is a member of (its group role).
        case disableLogin = "disable_login"
        /// `pg_terminate_backend` of the role's sessions.
        case terminateSessions = "terminate_sessions"
        /// `DROP OWNED BY …` in the target database: what the login created is dropped, never handed to another role.
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
