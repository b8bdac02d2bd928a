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
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
        .package(url: "https://github.com/vapor/jwt-kit.git", from: "5.8.0"),
    ],
    targets: [
        /// The policy language: lexer, parser, validator, evaluator. Standard library and Foundation only.
        .target(name: "AirlockPolicy"),
        /// Domain types, canonical JSON, envelope encryption, clocks, backoff and deadlines. No I/O.
        .target(
            name: "AirlockCore",
            dependencies: [
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        /// postgres-nio helpers both PostgreSQL adapters share (Store and Providers never import each other):
        /// an error as one line an operator can act on, its SQLSTATE. No Airlock types.
        .target(
            name: "AirlockPostgres",
            dependencies: [
                .product(name: "PostgresNIO", package: "postgres-nio"),
            ]
        ),
        /// PostgreSQL persistence: migrations, the audit log and its chainer, wrapped data keys.
        .target(
            name: "AirlockStore",
            dependencies: [
                "AirlockCore",
                "AirlockPostgres",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        /// Audit queries and chain verification.
        .target(
            name: "AirlockAudit",
            dependencies: [
                "AirlockCore",
                "AirlockStore",
                .product(name: "PostgresNIO", package: "postgres-nio"),
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
        /// A throwaway local PostgreSQL cluster, for `airlock dev` and the tests.
        .target(name: "AirlockLocalCluster"),
        /// The HTTP API: Hummingbird routes, configuration, health, metrics.
        .target(
            name: "AirlockServer",
            dependencies: [
                "AirlockPolicy",
                "AirlockProviders",
                "AirlockCore",
                "AirlockStore",
                "AirlockAudit",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "JWTKit", package: "jwt-kit"),
            ]
        ),
        .executableTarget(
            name: "airlock",
            dependencies: [
                "AirlockCore",
                "AirlockPolicy",
                "AirlockStore",
                "AirlockAudit",
                "AirlockServer",
                "AirlockLocalCluster",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .target(
            name: "AirlockTestSupport",
            dependencies: [
                "AirlockCore",
                "AirlockStore",
                "AirlockLocalCluster",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Tests/AirlockTestSupport"
        ),
        .target(name: "AirlockTestRandom", path: "Tests/AirlockTestRandom"),
        .testTarget(
            name: "AirlockLocalClusterTests",
            dependencies: ["AirlockLocalCluster"]
        ),
        .testTarget(
            name: "AirlockCLITests",
            dependencies: [
                "AirlockLocalCluster", "AirlockStore", "AirlockTestSupport",
                .product(name: "PostgresNIO", package: "postgres-nio"),
            ]
        ),
        .testTarget(
            name: "AirlockPolicyTests",
            dependencies: ["AirlockPolicy", "AirlockTestRandom"]
        ),
        .testTarget(
            name: "AirlockCoreTests",
            dependencies: ["AirlockCore", "AirlockTestRandom"]
        ),
        .testTarget(
            name: "AirlockProvidersTests",
            dependencies: [
                "AirlockProviders", "AirlockCore", "AirlockStore", "AirlockTestSupport",
                .product(name: "PostgresNIO", package: "postgres-nio"),
            ]
        ),
        .testTarget(
            name: "AirlockStoreTests",
            dependencies: [
                "AirlockCore", "AirlockStore", "AirlockAudit", "AirlockTestSupport",
                .product(name: "PostgresNIO", package: "postgres-nio"),
            ]
        ),
        .testTarget(
            name: "AirlockServerTests",
            dependencies: [
                "AirlockPolicy", "AirlockAudit",
                "AirlockServer", "AirlockStore", "AirlockTestSupport", "AirlockCore", "AirlockLocalCluster",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ]
        ),
        .testTarget(
            name: "AirlockAuthTests",
            dependencies: [
                "AirlockServer", "AirlockCore", "AirlockStore", "AirlockTestSupport",
                .product(name: "JWTKit", package: "jwt-kit"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)
