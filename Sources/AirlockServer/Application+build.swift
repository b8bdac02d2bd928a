import AirlockAudit
import AirlockBroker
import AirlockCore
import AirlockProviders
import AirlockRisk
import AirlockStore
import Foundation
import Hummingbird
import Logging
import NIOCore
import Prometheus
import ServiceLifecycle

/// Builds the broker: the HTTP routes and, in one `ServiceGroup` with the server, the database pool, the
/// credential provider's pools, the database monitor (readiness and migrations), the policy recorder, the audit
/// chainer and the request expiry sweep. SIGTERM/SIGINT stop accepting connections, let in-flight requests
/// finish, then stop the background services and close the pools.
public func buildApplication(config: ServerConfiguration) throws -> some ApplicationProtocol {
    let parts = try BrokerParts(config: config)
    let settings = config.settings
    return Application(
        router: parts.router,
        server: .http1(configuration: .init(idleTimeout: TimeAmount(settings.idleTimeout))),
        configuration: .init(address: .hostname(settings.listenHost, port: settings.listenPort), serverName: "airlock"),
        services: parts.services,
        onServerRunning: { [readiness = parts.readiness] channel in
            readiness.markServerRunning()
            await config.onServerRunning(channel.localAddress?.port ?? settings.listenPort)
        },
        logger: config.logger)
}

/// The routes the broker serves, as `METHOD /path` (nothing is started): what `Docs/openapi.yaml` must describe.
public func brokerRoutes(config: ServerConfiguration) throws -> [String] {
    try BrokerParts(config: config).router.routes.map { "\($0.method) \($0.path)" }
}

/// The router and the background services of one broker, wired from the configuration. Nothing connects until
/// the services run.
struct BrokerParts {
    let router: Router<AirlockRequestContext>
    let services: [any Service]
    let readiness: Readiness

    init(config: ServerConfiguration) throws {
        let settings = config.settings
        let logger = config.logger
        let databaseURL = try settings.requireDatabaseURL()
        _ = try settings.requireKeyRing()
        let policies = LoadedPolicies(try ActivePolicySet.load(directory: settings.policiesDirectory))
        let postgres = PostgresRoleProvider(logger: logger)
        // One registration line per kind of credential: the broker finds providers by the resource's kind.
        let providers = CredentialProviders([
            postgres,
            CredentialTokenProvider(),
        ])
        let catalog = try loadResources(
            directory: settings.policiesDirectory, environment: config.environment, providedKinds: providers.kinds)
        try providers.validate(catalog)
        postgres.checkAtStart(catalog.resources)  // warns of target databases PUBLIC may connect to
        try TransportSecurityWarnings.checkRootCertificates(database: databaseURL, resources: catalog.resources)
        TransportSecurityWarnings.warn(database: databaseURL, resources: catalog.resources, logger: logger)
        let database = Database(
            url: databaseURL, schema: settings.databaseSchema, maximumConnections: settings.databaseMaxConnections,
            logger: logger)
        let readiness = Readiness()
        readiness.block("policies", reason: "the loaded policy set is not yet recorded")
        let auditLog = AuditLog(source: settings.auditSource, clock: config.clock)
        let recorder = PolicyRecorder(
            database: database, policies: policies, auditLog: auditLog, readiness: readiness, logger: logger)
        let monitor = DatabaseMonitor(
            database: database, runner: MigrationRunner(migrations: config.migrations),
            migrateOnStart: config.migrateOnStart, readiness: readiness, logger: logger)
        let chainer = AuditChainer(
            database: database, interval: settings.auditChainInterval, chainKey: settings.auditChainKey, logger: logger,
            isDatabaseReady: { readiness.isMet("database") })

        var auth = settings.auth
        if let devIssuer = config.devIssuer { auth = auth.trusting(devIssuer) }
        // Token lookups are cached while the listener hears every token change (see TokenCache); the routes that
        // revoke share the store, so a revocation here clears the cache before it answers.
        let tokenCaches = TokenCaches()
        let tokens = ApiTokenStore(
            database: database, auditLog: auditLog, clock: config.clock, caches: tokenCaches,
            barrier: RevocationBarrier(wait: settings.tokenRevocationWait))
        let authenticator = try Authenticator(configuration: auth, tokens: tokens, clock: config.clock, logger: logger)
        let requests = AccessRequestStore(database: database, auditLog: auditLog, clock: config.clock, logger: logger)
        let decider = AccessDecider(
            catalog: catalog, policies: policies, maximumTTLSeconds: settings.maximumTTLSeconds,
            risk: riskAssessor(settings, database: database, clock: config.clock, logger: logger),
            clock: config.clock, timeZone: settings.timeZone, logger: logger)
        let accessRequests = AccessRequests(decider: decider, store: requests, approvalMFA: settings.approvalMFA)
        // This process in `broker_instances`: the token listener registers it; revocation claims and issuing leases
        // record it, so that other brokers take over at once when it dies.
        let brokerID = UUID()
        let leaseStore = LeaseStore(requests: requests, issuer: brokerID)
        let issuance = CredentialIssuance(requests: accessRequests, leases: leaseStore, providers: providers, logger: logger)
        // A failed revocation is retried after 1 s, doubling to at most 10 s: a target that comes back after an
        // outage has its leases revoked within seconds (each attempt on a dead target fails fast or within the
        // provider's deadline, and only that resource's lane waits).
        let backoff = Backoff(base: .seconds(1), cap: .seconds(10))
        let dataKeys = DataKeyStore(database: database, keyRing: try settings.requireKeyRing())
        let knownResources = KnownResources(database: database, keys: dataKeys, logger: logger)
        readiness.block("resources", reason: "the resource catalog is not yet recorded")
        let resourceRecorder = ResourceRecorder(
            database: database, known: knownResources, catalog: catalog, allowRemoved: settings.allowRemovedResources,
            auditLog: auditLog, readiness: readiness, logger: logger)
        let revocation = CredentialRevocation(
            store: LeaseRevocationStore(requests: requests, claimant: brokerID), catalog: catalog, providers: providers,
            knownResources: knownResources,
            retryDelay: { attempts in
                var generator = SystemRandomNumberGenerator()
                return backoff.delay(attempt: attempts, using: &generator)
            },
            credentialRemoved: { tokenCaches.clear() }, logger: logger)
        let leases = Leases(
            decider: decider, requests: requests, store: leaseStore, providers: providers, revocation: revocation)
        let revocationSweep = RevocationSweep(revocation: revocation)
        let reevaluation = ContinuousEvaluation(leases: leases, logger: logger)

        let router = Router(context: AirlockRequestContext.self)
        router.add(middleware: RequestIDMiddleware())
        router.add(middleware: LogRequestsMiddleware(.info))
        router.add(middleware: RequestMetricsMiddleware())
        router.add(middleware: CanonicalPathMiddleware())
        router.add(middleware: RateLimitMiddleware(
            limiter: RateLimiter(limit: settings.addressRateLimit, clock: config.rateLimitClock),
            key: .sourceAddress(trustedProxies: auth.trustedProxies)))
        router.add(middleware: AuthenticationMiddleware(
            authenticator: authenticator,
            exemptPaths: AuthenticationMiddleware<AirlockRequestContext>.defaultExemptPaths
                .union(config.devIssuer != nil && settings.console != nil ? DevSignInRoutes.paths : [])))
        router.add(middleware: RateLimitMiddleware(
            limiter: RateLimiter(limit: settings.principalRateLimit, clock: config.rateLimitClock), key: .principal))
        HealthRoutes(readiness: readiness, metrics: config.metrics).register(on: router)
        let accessRequestRoutes = AccessRequestRoutes(
            requests: accessRequests, issuance: issuance, trustedProxies: auth.trustedProxies)
        accessRequestRoutes.register(on: router)
        ServiceCredentialRoutes(routes: accessRequestRoutes).register(on: router)
        DecisionRoutes(routes: accessRequestRoutes).register(on: router)
        IntrospectionRoutes(introspector: CredentialTokenStore(
            database: database, clock: config.clock, caches: tokenCaches, logger: logger))
            .register(on: router)
        LeaseRoutes(leases: leases).register(on: router)
        TokenRoutes(tokens: ApiTokens(store: tokens, policies: policies)).register(on: router)
        WebhookRoutes(webhooks: Webhooks(
            store: WebhookStore(database: database, auditLog: auditLog, keys: dataKeys, clock: config.clock),
            addressPolicy: settings.webhookAddresses))
            .register(on: router)
        SignalRoutes(
            signals: Signals(
                store: SignalStore(database: database, auditLog: auditLog, clock: config.clock, logger: logger),
                reevaluation: reevaluation),
            clock: config.clock)
            .register(on: router)
        SharedSignalsReceiverRoutes(
            verifier: SecurityEventTokenVerifier(
                configuration: settings.sharedSignalsReceiver, auth: auth, clock: config.clock,
                fetcher: HTTPJWKSFetcher(), logger: logger),
            receiver: SharedSignalsReceiver(
                store: SecurityEventStore(database: database, auditLog: auditLog, clock: config.clock),
                reevaluation: reevaluation),
            clockSkewSeconds: settings.sharedSignalsReceiver.clockSkewSeconds)
            .register(on: router)
        let webhookTransport = HTTPWebhookTransport(policy: settings.webhookAddresses)
        let deliveryStore = WebhookDeliveryStore(
            database: database, auditLog: auditLog, keys: dataKeys, clock: config.clock, claimant: brokerID)
        // Airlock as a Shared Signals transmitter, when configured: its streams are delivered by the webhook dispatcher.
        let transmitter = settings.sharedSignalsTransmitter.map { transmitter in
            SharedSignalsTransmitter(
                issuer: transmitter.issuer, signer: transmitter.signer, primaryIssuer: auth.resolvedPrimaryIssuer)
        }
        if let transmitter, let transmitterSettings = settings.sharedSignalsTransmitter {
            SharedSignalsTransmitterRoutes(
                streams: SharedSignalsStreams(
                    store: SharedSignalsStreamStore(
                        database: database, auditLog: auditLog, keys: dataKeys, clock: config.clock),
                    deliveries: deliveryStore, transmitter: transmitter, addressPolicy: settings.webhookAddresses,
                    clock: config.clock),
                settings: transmitterSettings)
                .register(on: router)
        }
        let webhookDispatcher = WebhookDispatcher(
            store: deliveryStore, transport: webhookTransport, clock: config.clock, transmitter: transmitter,
            logger: logger)
        AuditRoutes(feed: AuditFeed(database: database, logger: logger)).register(on: router)
        AuditKeyRoutes(keys: AuditCheckpointing.publicKeys(settings)).register(on: router)
        // The SIEM sink (`audit.sink.*`), when configured: woken with the webhook dispatcher by the chain listener.
        let auditSink = settings.auditSink.map { settings in
            let sink = JSONLinesSink(
                path: settings.path, format: settings.format, maxBytes: settings.maxBytes, keep: settings.keep,
                logger: logger)
            return AuditSinkService(
                dispatcher: AuditSinkDispatcher(
                    name: settings.name, sink: sink,
                    cursors: AuditSinkCursors(database: database, clock: config.clock, claimant: brokerID),
                    feed: AuditFeed(database: database, logger: logger), clock: config.clock, logger: logger),
                sink: sink, readiness: readiness, fallback: .seconds(5))
        }
        if let devIssuer = config.devIssuer { DevRoutes(issuer: devIssuer).register(on: router) }
        if let console = settings.console {
            let sessions = ConsoleSessions(
                store: ConsoleSessionStore(database: database, clock: config.clock, logger: logger), settings: console,
                clock: config.clock)
            ConsoleAssets.register(on: router)
            ConsoleSignIn(sessions: sessions, authenticator: authenticator, logger: logger).register(on: router)
            ConsolePages(
                sessions: sessions, requests: accessRequests, issuance: issuance, leases: leases,
                audit: AuditFeed(database: database, logger: logger), trustedProxies: auth.trustedProxies, logger: logger)
                .register(on: router)
            if let devIssuer = config.devIssuer {
                DevSignInRoutes(issuer: devIssuer, console: console, clock: config.clock).register(on: router)
            }
        }
        router.add(middleware: MethodNotAllowedMiddleware(router: router))  // last: it sees only unmatched requests

        self.router = router
        self.readiness = readiness
        let auditSinkDispatcher = auditSink?.dispatcher
        var reloader = PolicyReloader(
            database: database, policies: policies, auditLog: auditLog, readiness: readiness, logger: logger,
            trapsHangup: config.reloadPoliciesOnHangup, brokerName: config.brokerName)
        reloader.reevaluation = reevaluation
        var services: [any Service] = [
            database.client, postgres, monitor, recorder, resourceRecorder, chainer, reloader,
            TokenChangeListener(
                database: database, caches: tokenCaches, logger: logger, heartbeatInterval: config.tokenHeartbeatInterval,
                brokerID: brokerID, brokerName: config.brokerName, isDatabaseReady: { readiness.isMet("database") }),
            PeriodicSweep(name: "request expiry", readiness: readiness, interval: .seconds(5), logger: logger) {
                try await requests.expireDue(limit: 100).count == 100
            },
            PeriodicSweep(name: "approval reminders", readiness: readiness, interval: .seconds(5), logger: logger) {
                let nudged = try await requests.nudgeDue(settings.approvalNudges, limit: 100)
                return nudged.reminded.count + nudged.escalated.count == 100
            },
            PeriodicSweep(
                name: "continuous evaluation", readiness: readiness, interval: settings.reevaluationInterval,
                logger: logger
            ) {
                // Risk changes with time too (a signal expires, a burst passes, the hour turns): everyone, now and
                // then. Several replicas may run it at once; leases are claimed, so none is revoked twice.
                try await reevaluation.reevaluate(principal: nil, because: "periodic re-evaluation")
                return false
            },
            RevocationSweepService(
                sweep: revocationSweep, readiness: readiness, fallback: config.revocationFallbackInterval),
            LeaseExpiryListener(
                database: database, logger: logger, isDatabaseReady: { readiness.isMet("database") },
                expiry: { revocationSweep.scheduler.heard($0) }),
            SecretReencryption(keys: dataKeys, readiness: readiness, interval: .seconds(30), logger: logger),
            WebhookDispatchService(
                dispatcher: webhookDispatcher, readiness: readiness, fallback: .seconds(5),
                onStop: { await webhookTransport.shutdown() }),
            AuditChainListener(
                database: database, logger: logger, isDatabaseReady: { readiness.isMet("database") },
                chained: {
                    webhookDispatcher.wake()
                    auditSinkDispatcher?.wake()
                }),
            AuditChainListener(
                database: database, channel: AuditChainListener.appendedChannel, logger: logger,
                isDatabaseReady: { readiness.isMet("database") }, chained: { chainer.appended.wake() }),
        ]
        if let auditSink { services.append(auditSink) }
        // Last, so it stops first: its shutdown checkpoint is written while the chainer still runs.
        services += AuditCheckpointing.services(
            config: config, database: database, auditLog: auditLog, chainer: chainer, readiness: readiness)
        self.services = services
    }
}

/// `DIR/resources.json`, validated like policies; no file means no resources (every request is
/// `unknown_resource`).
/// The risk engine `risk.engine` names: the principals' baselines and active external signals in `database`,
/// scored with `risk.*` in the requests' time zone, or none.
func riskAssessor(
    _ settings: AirlockConfiguration, database: Database, clock: any WallClock, logger: Logger
) -> any RiskAssessor {
    switch settings.riskEngine {
    case .off:
        return NoRiskSignals()
    case .baseline:
        return BaselineRiskAssessor(
            store: RiskBaselineStore(database: database, logger: logger),
            scorer: RiskScorer(settings: settings.riskSettings, timeZone: settings.timeZone), clock: clock, logger: logger)
    }
}

func loadResources(
    directory: String, environment: [String: String], providedKinds: Set<Resource.Kind> = []
) throws -> ResourceCatalog {
    let url = URL(fileURLWithPath: directory).appendingPathComponent("resources.json")
    guard FileManager.default.fileExists(atPath: url.path) else { return ResourceCatalog(resources: []) }
    return try ResourceCatalog.load(contentsOf: url, environment: environment, providedKinds: providedKinds)
}
