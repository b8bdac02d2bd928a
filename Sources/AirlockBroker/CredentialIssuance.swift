import AirlockCore
import AirlockStore
import Foundation
import Logging

/// A credential handed to its owner: once, never stored.
public struct IssuedCredential: Sendable {
    /// The kind of resource it is for.
    public var kind: Resource.Kind
    /// The access request it was issued for.
    public var accessRequestID: UUID
    public var credential: MintedCredential
}

/// Issuing at pickup and in one call, intent first: the lease row is written (claiming the request) before
/// anything exists on the target; the resource's provider mints; the lease becomes active and the request issued.
/// A mint that fails hands the lease to revocation, so no credential exists that Airlock does not know about.
public struct CredentialIssuance: Sendable {
    public let requests: AccessRequests
    public let leases: LeaseStore
    public let providers: CredentialProviders
    let logger: Logger
    /// The resources whose credentials this broker can issue, with their kinds (indexed once).
    private let issuable: [String: Resource.Kind]

    public init(requests: AccessRequests, leases: LeaseStore, providers: CredentialProviders, logger: Logger) {
        self.requests = requests
        self.leases = leases
        self.providers = providers
        self.logger = logger
        self.issuable = providers.issuable(in: requests.decider.catalog)
    }

    /// Picks up the credential of request `requestID` for `principal`.
    public func pickUp(_ requestID: UUID, by principal: Principal) async throws -> IssuedCredential {
        try principal.requireActingAsPrincipal()
        let catalog = requests.decider.catalog
        let intent: LeaseIntent
        do {
            intent = try await leases.begin(requestID, by: principal, issuable: issuable)
        } catch let error as AccessRequestError {
            throw BrokerError(error)
        } catch let error as StoreError where error.code == "forbidden" {
            throw BrokerError.forbidden(error.message)
        } catch let error as StoreError where error.code == "not_found" {
            throw BrokerError.notFound("no such access request")
        } catch let error as StoreError where error.code == "not_issuable" {
            throw BrokerError.resourceNoLongerConfigured
        }
        guard let resource = catalog[intent.resourceID], let provider = providers.provider(for: resource) else {
            try? await leases.abandon(intent.lease, error: "the resource is no longer configured")
            throw BrokerError.resourceNoLongerConfigured
        }
        let minted: MintedCredential
        do {
            minted = try await provider.mint(MintRequest(
                resource: resource, role: intent.role, leaseID: intent.lease, subject: principal.id,
                expiresAt: intent.expiresAt))
        } catch {
            let reason = (error as? ProviderError)?.message ?? "the target refused the credential"
            try? await leases.abandon(intent.lease, error: reason)
            logger.error("credential issuance failed", metadata: [
                "lease_id": "\(intent.lease)", "resource": "\(resource.id)", "error": "\(reason)",
            ])
            throw BrokerError.issuanceFailed("issuing the credential failed: \(reason)", atTarget: true)
        }
        do {
            try await leases.activate(intent, credential: minted)
        } catch {
            // The lease may already be ending (revoke-all while this was minting): remove the credential here, and
            // hand the lease to revocation as well (idempotent), so it cannot outlive the lease either way.
            _ = try? await provider.revoke(minted.recorded, on: resource)
            try? await leases.abandon(intent.lease, username: minted.username,
                                      error: "activation failed after the credential was created")
            logger.error("credential activation failed; the credential goes to revocation", metadata: [
                "lease_id": "\(intent.lease)", "resource": "\(resource.id)",
            ])
            throw BrokerError.issuanceFailed(
                "the credential was created but could not be recorded; it will be revoked", atTarget: false)
        }
        return IssuedCredential(kind: resource.kind, accessRequestID: requestID, credential: minted)
    }

    /// Asks and picks up in one call (services and CI jobs): the ask is recorded and audited exactly like any
    /// other; when the policy permits at once, the credential is picked up in the same call. Otherwise
    /// ``BrokerError/policyDenied(_:)`` with the decision; a pending request stays pending (an approver may still
    /// approve it, and its requester pick it up).
    public func issueNow(_ ask: Ask, by principal: Principal) async throws -> IssuedCredential {
        let recorded = try await requests.ask(ask, by: principal)
        guard recorded.decision.outcome == .permit else {
            let message = recorded.decision.outcome == .deny
                ? "the policy denies this request"
                : "the policy requires approval; the request \(recorded.id.uuidString.lowercased()) is pending"
            throw BrokerError.policyDenied(PolicyRefusal(
                message: message, decision: recorded.decision, explanation: recorded.explanation,
                accessRequestID: recorded.id, status: recorded.status))
        }
        return try await pickUp(recorded.id, by: principal)
    }
}
