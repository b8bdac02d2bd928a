import AirlockCore
import Foundation
import Testing

/// Issue 11 item 8: `verify-full` unless the host is this machine, a weaker mode only when written.
@Suite("PostgreSQL sslmode")
struct PostgresSSLModeTests {
    @Test("loopback hosts", arguments: [
        "127.0.0.1", "127.1.2.3", "127.255.255.254", "localhost", "LOCALHOST", "localhost.", "::1", "[::1]",
        "0:0:0:0:0:0:0:1", "::ffff:127.0.0.1", "/var/run/postgresql", "/tmp",
    ])
    func loopback(_ host: String) {
        #expect(PostgresSSLMode.isLoopback(host))
        #expect(PostgresSSLMode.default(forHost: host) == .prefer)
        #expect(!PostgresSSLMode.disable.isRelaxed(forHost: host))
    }

    @Test("every other host is remote", arguments: [
        "db.internal", "10.0.0.5", "192.168.1.10", "128.0.0.1", "126.255.255.255", "127.0.0.1.example.com",
        "localhost.example.com", "mylocalhost", "::2", "fe80::1", "::ffff:10.0.0.1", "127.0.0", "127.0.0.1.5",
        "0127.0.0.1", "2130706433", "",
    ])
    func remote(_ host: String) {
        #expect(!PostgresSSLMode.isLoopback(host))
        #expect(PostgresSSLMode.default(forHost: host) == .verifyFull)
        for mode in PostgresSSLMode.allCases {
            #expect(mode.isRelaxed(forHost: host) == (mode != .verifyFull))
        }
    }

    @Test("names are libpq's", arguments: ["disable", "prefer", "require", "verify-ca", "verify-full"])
    func names(_ name: String) throws {
        #expect(try #require(PostgresSSLMode(rawValue: name)).description == name)
    }

    @Test("`allow` and made-up modes are not accepted", arguments: ["allow", "verify_full", "VERIFY-FULL", "off", ""])
    func unknownNames(_ name: String) {
        #expect(PostgresSSLMode(rawValue: name) == nil)
    }

    /// Fails on the code before the fix: a remote target without `sslmode` got `prefer`.
    @Test("a remote target without sslmode is verify-full; a loopback one prefer")
    func catalogDefault() throws {
        let remote = try ResourceCatalog.parse(
            Data(ResourceCatalogTests.postgres { _ in }.utf8), environment: ["PW": "pw-value"])
        #expect("\(try #require(remote["orders-db"]?.postgres).sslMode)" == "verify-full")
        let local = try ResourceCatalog.parse(
            Data(ResourceCatalogTests.postgres(ResourceCatalogTests.setTarget("host", "127.0.0.1")).utf8),
            environment: ["PW": "pw-value"])
        #expect("\(try #require(local["orders-db"]?.postgres).sslMode)" == "prefer")
        let relaxed = try ResourceCatalog.parse(
            Data(ResourceCatalogTests.postgres(ResourceCatalogTests.setTarget("sslmode", "require")).utf8),
            environment: ["PW": "pw-value"])
        #expect("\(try #require(relaxed["orders-db"]?.postgres).sslMode)" == "require")
        #expect(PostgresTarget(host: "db.internal", port: 5432, database: "d", adminUser: "a", adminPassword: "p")
            .sslMode == .verifyFull)
    }

    @Test("sslrootcert: a path (with substitution) for verify-ca and verify-full only")
    func rootCertificate() throws {
        let patch: (inout [String: Any]) -> Void = { resource in
            ResourceCatalogTests.setTarget("sslmode", "verify-ca")(&resource)
            ResourceCatalogTests.setTarget("sslrootcert", "${CA_DIR}/ca.pem")(&resource)
        }
        let catalog = try ResourceCatalog.parse(
            Data(ResourceCatalogTests.postgres(patch).utf8), environment: ["PW": "pw-value", "CA_DIR": "/etc/airlock"])
        let target = try #require(catalog["orders-db"]?.postgres)
        #expect(target.sslMode == .verifyCA && target.sslRootCert == "/etc/airlock/ca.pem")
        let defaulted = try ResourceCatalog.parse(
            Data(ResourceCatalogTests.postgres(ResourceCatalogTests.setTarget("sslrootcert", "/ca.pem")).utf8),
            environment: ["PW": "pw-value"])
        #expect(defaulted["orders-db"]?.postgres?.sslRootCert == "/ca.pem")  // the default verify-full uses it
        for mode in ["disable", "prefer", "require"] {
            let refused: (inout [String: Any]) -> Void = { resource in
                ResourceCatalogTests.setTarget("sslmode", mode)(&resource)
                ResourceCatalogTests.setTarget("sslrootcert", "/ca.pem")(&resource)
            }
            #expect(throws: ResourceCatalogError.self) {
                try ResourceCatalog.parse(Data(ResourceCatalogTests.postgres(refused).utf8), environment: ["PW": "pw"])
            }
        }
    }
}
