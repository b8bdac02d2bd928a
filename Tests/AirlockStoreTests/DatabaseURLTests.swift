import AirlockStore
import AirlockTestSupport
import Foundation
import Testing

@Suite("DatabaseURL", .timeLimit(.minutes(2)))
struct DatabaseURLTests {
    @Test("parses every part")
    func parsesAll() throws {
        let url = try DatabaseURL("postgres://alice:s3cret@db.example.com:6543/airlock?sslmode=require")
        #expect(url.host == "db.example.com")
        #expect(url.port == 6543)
        #expect(url.username == "alice")
        #expect(url.password == "s3cret")
        #expect(url.database == "airlock")
        #expect(url.tlsMode == .require)
    }

    @Test("defaults: local host, port 5432, no password, sslmode prefer (on the loopback)")
    func defaults() throws {
        let url = try DatabaseURL("postgresql://bob@/airlock")
        #expect(url.host == "127.0.0.1")
        #expect(url.port == 5432)
        #expect(url.password == nil)
        #expect(url.tlsMode == .prefer)
        #expect(try DatabaseURL("postgres://bob@localhost/db?sslmode=disable").tlsMode == .disable)
    }

    @Test("percent-encoded parts are decoded exactly once", arguments: [
        ("p%40ss%3Aw%2Fo%23rd", "p@ss:w/o#rd"),
        ("50%25off", "50%off"),
        ("%2541", "%41"),
        ("sp%20ace", "sp ace"),
    ])
    func percentDecoding(_ encoded: String, _ password: String) throws {
        let url = try DatabaseURL("postgres://al%40ice:\(encoded)@h/db")
        #expect(url.password == password)
        #expect(url.username == "al@ice")
    }

    @Test("description hides the password")
    func descriptionHidesPassword() throws {
        let url = try DatabaseURL("postgres://alice:hunter2-secret@db:5433/airlock?sslmode=disable")
        #expect(url.description == "postgres://alice:***@db:5433/airlock?sslmode=disable")
        #expect(!"\(url)".contains("hunter2"))
        #expect(!String(reflecting: url).contains("hunter2"))
        let noPassword = try DatabaseURL("postgres://alice@db/airlock")
        #expect(noPassword.description == "postgres://alice@db:5432/airlock?sslmode=verify-full")
    }

    /// Issue 11 item 8. Fails on the code before the fix: every host defaulted to `prefer`.
    @Test("without sslmode: verify-full for a remote host, prefer on this machine")
    func defaultModeByHost() throws {
        for text in ["postgres://u@db.example.com/airlock", "postgres://u@10.1.2.3:6543/airlock",
                     "postgres://u@localhost.example.com/airlock"] {
            #expect(try DatabaseURL(text).tlsMode.rawValue == "verify-full", "\(text)")
        }
        for text in ["postgres://u@127.0.0.1/airlock", "postgres://u@localhost/airlock", "postgres://u@127.0.0.2/a",
                     "postgres://u@[::1]/airlock", "postgres://u@/airlock"] {
            #expect(try DatabaseURL(text).tlsMode.rawValue == "prefer", "\(text)")
        }
        // An explicit setting relaxes it (and is warned of at start, see TransportSecurityTests).
        #expect(try DatabaseURL("postgres://u@db.example.com/a?sslmode=disable").tlsMode == .disable)
        #expect(try DatabaseURL("postgres://u@db.example.com/a?sslmode=verify-ca").tlsMode == .verifyCA)
    }

    @Test("sslrootcert: for verify-ca and verify-full, shown in the description")
    func rootCertificate() throws {
        let url = try DatabaseURL("postgres://u:pw@db.example.com/a?sslmode=verify-full&sslrootcert=/etc/airlock/ca.pem")
        #expect(url.rootCertificate == "/etc/airlock/ca.pem")
        #expect(url.description == "postgres://u:***@db.example.com:5432/a?sslmode=verify-full&sslrootcert=/etc/airlock/ca.pem")
        #expect(url.tls.rootCertificateFile == "/etc/airlock/ca.pem" && url.tls.verifiesHostname)
        #expect(try DatabaseURL("postgres://u@db.example.com/a?sslrootcert=/ca.pem").rootCertificate == "/ca.pem")
        #expect(try DatabaseURL("postgres://u@db/a?sslmode=verify-ca&sslrootcert=system").tls.rootCertificateFile == nil)
        for text in ["postgres://u@db/a?sslmode=require&sslrootcert=/ca.pem", "postgres://u@127.0.0.1/a?sslrootcert=/ca.pem",
                     "postgres://u@db/a?sslrootcert=", "postgres://u@db/a?sslmode=allow"] {
            #expect(throws: StoreError.self, "\(text)") { try DatabaseURL(text) }
        }
    }

    @Test("with(database:) changes only the database")
    func withDatabase() throws {
        let url = try DatabaseURL("postgres://alice:pw@db:5433/airlock?sslmode=disable")
        let other = url.with(database: "postgres")
        #expect(other.database == "postgres")
        #expect(other.host == url.host && other.port == url.port && other.password == url.password)
        #expect(other != url)
    }

    @Test("malformed URLs are invalid_database_url, without echoing the password", arguments: [
        "mysql://alice:topsecret@db/airlock",
        "http://alice:topsecret@db/airlock",
        "not a url",
        "postgres://db/airlock",
        "postgres://:topsecret@db/airlock",
        "postgres://alice:topsecret@db",
        "postgres://alice:topsecret@db/",
        "postgres://alice:topsecret@db/airlock/extra",
        "postgres://alice:topsecret@db/airlock?sslmode=allow",
        "postgres://alice:topsecret@db/airlock?sslmode=require&sslrootcert=/ca.pem",
        "postgres://alice:topsecret@db/airlock?sslmode",
        "postgres://alice:topsecret@db/airlock?sslmod=disable",
        "postgres://alice:topsecret@db/airlock?sslmode=disable&password=x",
        "postgres://alice:topsecret@db:0/airlock",
        "postgres://alice:topsecret@db:65536/airlock",
    ])
    func invalid(_ text: String) throws {
        let error = try #require(throws: StoreError.self) { try DatabaseURL(text) }
        #expect(error.code == "invalid_database_url")
        #expect(error.message.hasPrefix("invalid database url: "))
        #expect(!error.message.contains("topsecret"))
    }

    // No timed assertion (they fail on a loaded machine): a refused connection is an error, not a wait.
    @Test("probing a closed port fails with database_unreachable and no password", .timeLimit(.minutes(1)))
    func probeClosedPort() async throws {
        let url = try DatabaseURL("postgres://alice:hunter2-secret@127.0.0.1:1/airlock?sslmode=disable")
        let error = await #expect(throws: StoreError.self) { try await Database.probe(url, logger: Support.logger) }
        #expect(error?.code == "database_unreachable")
        #expect(error?.message.contains("127.0.0.1:1/airlock") == true)
        #expect(error?.message.contains("hunter2") == false)
    }

    @Test("probing with a wrong password fails with database_unreachable and does not echo it")
    func probeWrongPassword() async throws {
        let good = try await TestDatabase.fresh(migrated: false)
        try await Database.probe(good, logger: Support.logger)
        var bad = good
        bad.password = "wrong-password-hunter2"
        let error = await #expect(throws: StoreError.self) { try await Database.probe(bad, logger: Support.logger) }
        #expect(error?.code == "database_unreachable")
        #expect(error?.message.contains("password authentication failed") == true)
        #expect(error?.message.contains("hunter2") == false)
        #expect(error?.message.contains(good.password ?? "no password") == false)
    }
}
