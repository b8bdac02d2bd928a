// swift-tools-version: 6.1
import PackageDescription

let package = Package(
    name: "airlock",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "airlock", targets: ["airlock"]),
    ],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.5.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.3"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
        .package(url: "https://github.com/vapor/jwt-kit.git", from: "5.8.0"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
    ],
    targets: [
        /// The policy language: lexer, parser, validator, evaluator. Standard library and Foundation only.
        .target(name: "AirlockPolicy"),
        /// Domain types, canonical JSON, envelope encryption, clocks, backoff and deadlines, the request and lease
        /// state machines, the credential provider protocol and its registry. No I/O.
        .target(
            name: "AirlockCore",
            dependencies: [
                "AirlockPolicy",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "CryptoExtras", package: "swift-crypto"),
            ]
        ),
        /// postgres-nio helpers both PostgreSQL adapters share (Store and Providers never import each other):
        /// an error as one line an operator can act on, its SQLSTATE, TLS settings from `sslmode`. No Airlock types.
        .target(
            name: "AirlockPostgres",
            dependencies: [
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ]
        ),
        /// PostgreSQL persistence: migrations, the audit log, its chainer and verifier, wrapped data keys.
        .target(
            name: "AirlockStore",
            dependencies: [
                "AirlockCore",
                "AirlockPolicy",
                "AirlockPostgres",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        /// Credential providers: dynamic PostgreSQL login roles (SCRAM verifiers, group roles, revocation).
        .target(
            name: "AirlockProviders",
            dependencies: [
                "AirlockCore",
                "AirlockPostgres",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "CryptoExtras", package: "swift-crypto"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        /// The application layer: the use cases (ask and decide, review, issue, renew, revoke, expire, replay) with
        /// typed inputs, typed results and one domain error. Imports no HTTP: the server and the CLI call it.
        .target(
            name: "AirlockBroker",
            dependencies: [
                "AirlockCore",
                "AirlockPostgres",
                "AirlockPolicy",
                "AirlockRisk",
                "AirlockStore",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ]
        ),
        /// Audit delivery: webhooks posted over HTTP (outbound address checks, no redirects, timeouts), audit
        /// events as OCSF records, and the JSON Lines SIEM sink (a rotating file or stdout). Imports no other adapter.
        .target(
            name: "AirlockAudit",
            dependencies: [
                "AirlockCore",
                "AirlockPolicy",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        /// A throwaway local PostgreSQL cluster, for `airlock dev` and the tests.
        .target(name: "AirlockLocalCluster"),
        /// Risk: the signals of a request judged against the principal's own history (issue 15).
        .target(name: "AirlockRisk", dependencies: ["AirlockCore", "AirlockPolicy"]),
        /// `airlock agent`: credentials kept fresh for long-running services (renewal, successors with overlap,
        /// sealed delivery), handed over in files or to the application it runs; its own health and metrics.
        /// A client of the broker's HTTP API: imports no adapter and no server module.
        .target(
            name: "AirlockAgent",
            dependencies: [
                "AirlockCore",
                "AirlockPolicy",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        /// The HTTP API: Hummingbird routes, configuration, health, metrics.
        .target(
            name: "AirlockServer",
            dependencies: [
                "AirlockAudit",
                "AirlockBroker",
                "AirlockPolicy",
                "AirlockPostgres",
                "AirlockProviders",
                "AirlockRisk",
                "AirlockCore",
                "AirlockStore",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "JWTKit", package: "jwt-kit"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ]
        ),
        .executableTarget(
            name: "airlock",
            dependencies: [
                "AirlockAgent",
                "AirlockAudit",
                "AirlockCore",
                "AirlockPolicy",
                "AirlockRisk",
                "AirlockStore",
                "AirlockPostgres",
                "AirlockBroker",
                "AirlockServer",
                "AirlockLocalCluster",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Hummingbird", package: "hummingbird"),
            ]
        ),
        .target(
            name: "AirlockTestSupport",
            dependencies: [
                "AirlockCore",
                "AirlockProviders",
                "AirlockPostgres",
                "AirlockStore",
                "AirlockLocalCluster",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "CryptoExtras", package: "swift-crypto"),
            ],
            path: "Tests/AirlockTestSupport"
        ),
        .target(name: "AirlockTestRandom", path: "Tests/AirlockTestRandom"),
        .testTarget(name: "AirlockRiskTests", dependencies: ["AirlockRisk", "AirlockCore", "AirlockPolicy"]),
        .testTarget(
            name: "AirlockAgentTests",
            dependencies: [
                "AirlockAgent", "AirlockCore", "AirlockTestSupport",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
            ]
        ),
        .testTarget(
            name: "AirlockLocalClusterTests",
            dependencies: ["AirlockLocalCluster"]
        ),
        .testTarget(
            name: "AirlockCLITests",
            dependencies: [
                "AirlockLocalCluster", "AirlockStore", "AirlockTestSupport",
                "AirlockCore",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
            ]
        ),
        .testTarget(
            name: "AirlockPolicyTests",
            dependencies: ["AirlockPolicy", "AirlockTestRandom"]
        ),
        .testTarget(
            name: "AirlockCoreTests",
            dependencies: ["AirlockCore", "AirlockPolicy", "AirlockTestRandom"]
        ),
        .testTarget(
            name: "AirlockAuditTests",
            dependencies: ["AirlockAudit", "AirlockCore", .product(name: "Logging", package: "swift-log")],
            resources: [.copy("OCSF")]
        ),
        .testTarget(
            name: "AirlockProvidersTests",
            dependencies: [
                "AirlockProviders", "AirlockCore", "AirlockPostgres", "AirlockStore", "AirlockTestSupport",
                .product(name: "PostgresNIO", package: "postgres-nio"),
            ]
        ),
        .testTarget(
            name: "AirlockStoreTests",
            dependencies: [
                "AirlockCore", "AirlockPolicy", "AirlockStore", "AirlockTestSupport", "AirlockPostgres",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .testTarget(
            name: "AirlockServerTests",
            dependencies: [
                "AirlockPolicy", "AirlockBroker", "AirlockPostgres", "AirlockAudit",
                "AirlockServer", "AirlockStore", "AirlockTestSupport", "AirlockCore", "AirlockLocalCluster", "AirlockRisk",
                "AirlockAgent",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ]
        ),
        .testTarget(
            name: "AirlockBrokerTests",
            dependencies: [
                "AirlockBroker", "AirlockCore", "AirlockPolicy", "AirlockRisk", "AirlockStore", "AirlockTestSupport",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "AirlockAuthTests",
            dependencies: [
                "AirlockServer", "AirlockCore", "AirlockStore", "AirlockTestSupport",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "JWTKit", package: "jwt-kit"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)
