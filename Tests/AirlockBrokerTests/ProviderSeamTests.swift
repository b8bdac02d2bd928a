import AirlockBroker
import AirlockCore
import AirlockPolicy
import AirlockStore
import AirlockTestSupport
import Foundation
import PostgresNIO
import Synchronization
import Testing

/// The credential provider seam is real: a kind Airlock has never heard of, served by a provider that exists
/// only here, is asked for, issued, renewed, revoked and expired through the broker's own services, on a real
/// database, with nothing in the broker knowing the kind.
@Suite(.serialized)
struct ProviderSeamTests {
    static let start = Date(timeIntervalSince1970: 1_800_000_000)
    static let memo = Resource.Kind(rawValue: "memo")!
    /// Declared in a resources file like any other, with settings only its provider understands.
    static let resourcesFile = #"""
        {"resources": [{"id": "notes", "kind": "memo", "env": "prod", "owner": "docs",
          "settings": {"shelf": "runbooks"}, "roles": {"reader": {}}}]}
        """#
    static let alice = Principal(id: "alice", kind: .user, groups: ["docs"])

    /// A provider for `memo` resources: it keeps the credentials it minted, so the test sees each one appear and go.
    final class MemoProvider: CredentialProvider {
        let live = Mutex<[UUID: Date]>([:])
        let revoked = Mutex<[UUID]>([])
        var kind: Resource.Kind { ProviderSeamTests.memo }

        func mint(_ request: MintRequest) async throws -> MintedCredential {
            live.withLock { $0[request.leaseID] = request.expiresAt }
            return MintedCredential(
                // Unique per lease, as `leases.username` must be.
                leaseID: request.leaseID, expiresAt: request.expiresAt,
                username: "memo_\(request.role)_\(request.leaseID.uuidString.prefix(8).lowercased())",
                secretFields: ["passphrase": .string("not-a-real-secret-\(request.leaseID)")])
        }

        func extend(_ credential: LeaseCredential, on resource: Resource, until: Date) async throws {
            live.withLock { $0[credential.leaseID] = until }
        }

        func revoke(_ credential: LeaseCredential, on resource: Resource) async throws -> RevocationOutcome {
            let existed = live.withLock { $0.removeValue(forKey: credential.leaseID) != nil }
            revoked.withLock { $0.append(credential.leaseID) }
            return RevocationOutcome(identifier: credential.username ?? "", existed: existed)
        }

        func leftover(of leaseID: UUID, on resource: Resource) async throws -> String? { nil }

        func validate(_ resource: Resource) throws {
            guard case .string? = resource.settings["shelf"] else {
                throw ProviderError(code: "invalid_settings", message: "`settings.shelf` must be a string")
            }
        }
    }

    struct Broker {
        let requests: AccessRequests
        let issuance: CredentialIssuance
        let leases: Leases
        let provider: MemoProvider
        let clock: TestClock
    }

    static func broker(_ database: Database, clock: TestClock = TestClock(ProviderSeamTests.start)) async throws -> Broker {
        let policySet = try ActivePolicySet.load(
            files: ["main.airlock": #"permit "memo-readers" when resource.kind == "memo" and "docs" in principal.groups ttl <= 10m;"#],
            id: UUID(), directory: "")
        try await database.client.query("""
            INSERT INTO policy_sets (id, digest, files, status) VALUES (\(policySet.id), \(policySet.digest), '{}', 'loaded')
            """, logger: TestDatabase.logger)
        let store = AccessRequestStore(
            database: database, auditLog: AuditLog(source: "airlock-test", clock: clock), clock: clock,
            logger: TestDatabase.logger)
        let provider = MemoProvider()
        let providers = CredentialProviders([provider])
        let catalog = try ResourceCatalog.parse(Data(resourcesFile.utf8), environment: [:], providedKinds: providers.kinds)
        try providers.validate(catalog)
        let decider = AccessDecider(
            catalog: catalog, policies: LoadedPolicies(policySet), maximumTTLSeconds: 3600,
            clock: clock, timeZone: TimeZone(identifier: "UTC")!, logger: TestDatabase.logger)
        let requests = AccessRequests(decider: decider, store: store)
        let leaseStore = LeaseStore(requests: store)
        let revocation = CredentialRevocation(
            store: LeaseRevocationStore(requests: store), catalog: decider.catalog, providers: providers,
            retryDelay: { _ in .seconds(5) }, logger: TestDatabase.logger)
        return Broker(
            requests: requests,
            issuance: CredentialIssuance(requests: requests, leases: leaseStore, providers: providers, logger: TestDatabase.logger),
            leases: Leases(decider: decider, requests: store, store: leaseStore, providers: providers, revocation: revocation),
            provider: provider, clock: clock)
    }

    @Test("a test provider plugs in through the registry: issued, renewed and revoked end to end")
    func issueRenewRevoke() async throws {
        try await TestDatabase.withDatabase { database in
            let broker = try await Self.broker(database)
            let issued = try await broker.issuance.issueNow(
                Ask(resource: "notes", role: "reader", ttlSeconds: 300), by: Self.alice)
            #expect(issued.kind == Self.memo)
            #expect(issued.credential.secretFields["passphrase"] != nil)
            // No printing path shows the secret: description, debug description, reflection, dump.
            var dumped = ""
            dump(issued, to: &dumped)
            for text in ["\(issued)", "\(issued.credential)", String(reflecting: issued), String(reflecting: issued.credential), dumped] {
                #expect(!text.contains("not-a-real-secret"), "\(text)")
            }
            let leaseID = issued.credential.leaseID
            #expect(broker.provider.live.withLock { $0[leaseID] } == Self.start.addingTimeInterval(300))
            let lease = try await broker.leases.show(leaseID, to: Self.alice)
            #expect(lease.status == .active && lease.kind == Self.memo && lease.username?.hasPrefix("memo_reader_") == true)

            broker.clock.advance(60)
            let renewed = try await broker.leases.renew(leaseID, by: Self.alice, ttlSeconds: 500)
            #expect(renewed.expiresAt == Self.start.addingTimeInterval(560))
            #expect(broker.provider.live.withLock { $0[leaseID] } == Self.start.addingTimeInterval(560))

            let ended = try await broker.leases.revoke(leaseID, by: Self.alice)
            #expect(ended.status == .revoked)
            #expect(broker.provider.live.withLock { $0.isEmpty })
            #expect(broker.provider.revoked.withLock { $0 } == [leaseID])
        }
    }

    @Test("a revoke racing another worker's claim on the lease answers with that worker's outcome, not `revoking`")
    func revokeWaitsForAnotherWorkersClaim() async throws {
        try await TestDatabase.withDatabase { database in
            let broker = try await Self.broker(database)
            let issued = try await broker.issuance.issueNow(
                Ask(resource: "notes", role: "reader", ttlSeconds: 300), by: Self.alice)
            let leaseID = issued.credential.leaseID
            // The sweep (here or on another replica) marks and claims it first, and is slow to remove it.
            let store = broker.leases.revocation.store
            _ = try await store.markForRevocation(ids: [leaseID], reason: "expired")
            let claimed = try await store.claimDue(ids: [leaseID])
            #expect(claimed.map(\.id) == [leaseID])
            async let answer = broker.leases.revoke(leaseID, by: Self.alice)
            try await Task.sleep(for: .milliseconds(300))
            #expect(await broker.leases.revocation.revoke(try #require(claimed.first)))
            let ended = try await answer
            #expect(ended.status != .revoking && ended.revokedAt != nil, "answered \(ended.status)")
            #expect(broker.provider.revoked.withLock { $0 } == [leaseID])
        }
    }

    @Test("a test provider's credential expires through the revocation sweep")
    func expiry() async throws {
        try await TestDatabase.withDatabase { database in
            let broker = try await Self.broker(database)
            let recorded = try await broker.requests.ask(
                Ask(resource: "notes", role: "reader", ttlSeconds: 120, reason: "read the runbook"), by: Self.alice)
            #expect(recorded.status == .approved)
            let issued = try await broker.issuance.pickUp(recorded.id, by: Self.alice)
            let leaseID = issued.credential.leaseID
            #expect(try await broker.leases.revocation.revokeDue() == 0)
            broker.clock.advance(121)
            #expect(try await broker.leases.revocation.revokeDue() == 1)
            #expect(try await broker.leases.show(leaseID, to: Self.alice).status == .expired)
            #expect(broker.provider.revoked.withLock { $0 } == [leaseID])
        }
    }

    @Test("a provider checks its resources at load: bad settings, or a kind nobody serves, stop the broker")
    func validation() throws {
        let providers = CredentialProviders([MemoProvider()])
        let noShelf = try ResourceCatalog.parse(
            Data(Self.resourcesFile.replacingOccurrences(of: #""shelf": "runbooks""#, with: #""shelf": 7"#).utf8),
            environment: [:], providedKinds: providers.kinds)
        #expect(throws: ProviderError(code: "invalid_settings", message: "resource `notes`: `settings.shelf` must be a string")) {
            try providers.validate(noShelf)
        }
        let good = try ResourceCatalog.parse(Data(Self.resourcesFile.utf8), environment: [:], providedKinds: providers.kinds)
        #expect(throws: ProviderError.self) { try CredentialProviders([]).validate(good) }
    }

    @Test("a kind no provider is registered for cannot be picked up")
    func unregisteredKind() async throws {
        try await TestDatabase.withDatabase { database in
            let broker = try await Self.broker(database)
            let unserved = CredentialIssuance(
                requests: broker.requests, leases: broker.issuance.leases, providers: CredentialProviders([]),
                logger: TestDatabase.logger)
            let recorded = try await broker.requests.ask(
                Ask(resource: "notes", role: "reader", ttlSeconds: 120, reason: "r"), by: Self.alice)
            await #expect(throws: BrokerError.resourceNoLongerConfigured) {
                try await unserved.pickUp(recorded.id, by: Self.alice)
            }
            #expect(broker.provider.live.withLock { $0.isEmpty })
        }
    }
}
