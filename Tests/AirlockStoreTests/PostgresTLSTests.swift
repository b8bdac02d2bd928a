import AirlockCore
import AirlockPostgres
import AirlockStore
import AirlockTestSupport
import Foundation
import Testing

/// Issue 11 item 8: what each `sslmode` asks of the connection, against real servers on 127.0.0.1 only.
@Suite("PostgreSQL TLS", .timeLimit(.minutes(3)))
struct PostgresTLSTests {
    @Test("each sslmode maps to libpq's meaning")
    func mapping() throws {
        let disable = PostgresTLS(sslmode: "disable", rootCertificate: nil)
        #expect(disable.configuration == nil && !disable.requiresTLS && !disable.verifiesCertificate)
        for mode in ["prefer", "require"] {
            let tls = PostgresTLS(sslmode: mode, rootCertificate: "/ca.pem")
            #expect(tls.configuration != nil && !tls.verifiesCertificate && !tls.verifiesHostname)
            #expect(tls.requiresTLS == (mode == "require") && tls.rootCertificateFile == nil)
        }
        let chain = PostgresTLS(sslmode: "verify-ca", rootCertificate: "/ca.pem")
        #expect(chain.requiresTLS && chain.verifiesCertificate && !chain.verifiesHostname)
        #expect(chain.rootCertificateFile == "/ca.pem")
        let full = PostgresTLS(sslmode: "verify-full", rootCertificate: nil)
        #expect(full.requiresTLS && full.verifiesHostname && full.rootCertificateFile == nil)
        #expect(PostgresTLS(sslmode: "verify-full", rootCertificate: "system").rootCertificateFile == nil)
        // A name it does not know is the strictest mode, never a weaker one.
        #expect(PostgresTLS(sslmode: "allow", rootCertificate: nil) == full)
        // The broker's database and a target map the same way.
        let url = try DatabaseURL("postgres://u@db.example.com/a?sslrootcert=/ca.pem")
        #expect(url.tls == PostgresTLS(sslmode: "verify-full", rootCertificate: "/ca.pem"))
    }

    @Test("sslmode=require against a server without TLS does not connect; prefer falls back to plaintext")
    func requireWithoutTLS() async throws {
        let plain = try await TestDatabase.serverURL()  // the shared test server offers no TLS
        var require = plain
        require.tlsMode = .require
        await #expect(throws: StoreError.self) { try await Database.probe(require, logger: TestDatabase.logger) }
        var prefer = plain
        prefer.tlsMode = .prefer
        try await Database.probe(prefer, logger: TestDatabase.logger)
    }

    @Test("verify-full: only a certificate from the configured authority, naming the address connected to")
    func verification() async throws {
        let server = try await TLSTestServer.start()
        defer { server.stop() }
        // The right authority and the name the certificate holds: an encrypted session.
        #expect(try await server.sessionIsEncrypted(
            server.url(host: "localhost", sslmode: .verifyFull, rootCertificate: server.authorityFile)))
        // Another authority, or the system's (which never signed the test certificate): refused.
        await #expect(throws: (any Error).self) {
            try await server.sessionIsEncrypted(
                server.url(host: "localhost", sslmode: .verifyFull, rootCertificate: server.otherAuthorityFile))
        }
        await #expect(throws: (any Error).self) {
            try await server.sessionIsEncrypted(server.url(host: "localhost", sslmode: .verifyFull))
        }
        // A name (here an address) the certificate does not hold: refused by verify-full, accepted by verify-ca.
        await #expect(throws: (any Error).self) {
            try await server.sessionIsEncrypted(
                server.url(host: "127.0.0.1", sslmode: .verifyFull, rootCertificate: server.authorityFile))
        }
        #expect(try await server.sessionIsEncrypted(
            server.url(host: "127.0.0.1", sslmode: .verifyCA, rootCertificate: server.authorityFile)))
        // require encrypts without checking; prefer takes TLS when offered.
        #expect(try await server.sessionIsEncrypted(server.url(sslmode: .require)))
        #expect(try await server.sessionIsEncrypted(server.url(sslmode: .prefer)))
        // The pool (as the broker runs it) connects the same way.
        let url = try server.url(host: "localhost", sslmode: .verifyFull, rootCertificate: server.authorityFile)
        try await TestDatabase.withExisting(url) { database in
            let rows = try await database.client.query(
                "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()", logger: TestDatabase.logger)
            for try await ssl in rows.decode(Bool.self) { #expect(ssl) }
        }
    }
}
