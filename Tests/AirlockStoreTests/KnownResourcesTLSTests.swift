import AirlockCore
import AirlockStore
import AirlockTestSupport
import Testing

/// Issue 11 item 8: a resource's last-known settings keep its `sslmode` and `sslrootcert`, so a lease whose
/// resource left the catalog is revoked over a connection as strict as the one it was issued over.
@Suite("Known resources: TLS settings", .timeLimit(.minutes(2)))
struct KnownResourcesTLSTests {
    @Test("sslmode and sslrootcert survive the record")
    func tlsSettingsAreRecorded() async throws {
        try await TestDatabase.withDatabase { database in
            let known = KnownResources(
                database: database, keys: DataKeyStore(database: database, keyRing: KeyRing(current: .generate())),
                logger: TestDatabase.logger)
            func resource(_ id: String, _ target: PostgresTarget) -> Resource {
                Resource(id: id, kind: .postgres, env: "prod", postgres: target, roles: [:])
            }
            let strict = PostgresTarget(
                host: "db.example.internal", port: 5432, database: "orders", adminUser: "airlock_admin",
                adminPassword: "pw-1", sslMode: .verifyCA, sslRootCert: "/etc/airlock/ca.pem")
            let defaulted = PostgresTarget(
                host: "db.example.internal", port: 5432, database: "orders", adminUser: "airlock_admin",
                adminPassword: "pw-2")
            try await known.record([resource("strict-db", strict), resource("default-db", defaulted)])
            let strictBack = try #require(try await known.lastKnown("strict-db")?.postgres)
            #expect(strictBack.sslMode == .verifyCA && strictBack.sslRootCert == "/etc/airlock/ca.pem")
            let defaultBack = try #require(try await known.lastKnown("default-db")?.postgres)
            #expect(defaultBack.sslMode == .verifyFull && defaultBack.sslRootCert == nil)
        }
    }
}
