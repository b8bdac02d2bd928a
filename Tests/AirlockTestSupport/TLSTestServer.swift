import AirlockCore
import AirlockLocalCluster
import AirlockStore
import Foundation
import Logging
import PostgresNIO

/// A throwaway PostgreSQL cluster of its own on 127.0.0.1 that offers TLS with ``TestCertificates``'s server
/// certificate (which names `localhost` only), for tests of `sslmode` against a real server. Stop it with ``stop()``.
///
/// The shared test server (``TestDatabase``) offers no TLS, which the tests of `require` rely on.
public final class TLSTestServer: Sendable {
    /// The cluster.
    public let cluster: LocalPostgresCluster
    /// Where the client-side files are: `ca.pem` (the authority that signed the server's certificate) and
    /// `other-ca.pem` (one that did not).
    public let files: TemporaryDirectory

    private init(cluster: LocalPostgresCluster, files: TemporaryDirectory) {
        self.cluster = cluster
        self.files = files
    }

    /// The authority that signed the server's certificate.
    public var authorityFile: String { files.url.appendingPathComponent("ca.pem").path }
    /// An authority that did not.
    public var otherAuthorityFile: String { files.url.appendingPathComponent("other-ca.pem").path }

    /// Starts a cluster and turns TLS on (`ssl = on` and a configuration reload), waiting until it is offered.
    public static func start() async throws -> TLSTestServer {
        let cluster = try LocalPostgresCluster.start()
        LocalPostgresCluster.stopAtExit(cluster)
        do {
            let files = try TemporaryDirectory()
            _ = try TestCertificates.write(TestCertificates.authority, named: "ca.pem", in: files.url)
            _ = try TestCertificates.write(TestCertificates.otherAuthority, named: "other-ca.pem", in: files.url)
            // The server reads its key as its own user, and refuses a key others may read.
            let certificate = try TestCertificates.write(
                TestCertificates.serverCertificate, named: "server.crt", in: cluster.directory)
            let key = try TestCertificates.write(TestCertificates.serverKey, named: "server.key", in: cluster.directory)
            let owner = try FileManager.default.attributesOfItem(atPath: cluster.dataDirectory.path)
            for path in [certificate, key] {
                try FileManager.default.setAttributes(
                    [.ownerAccountID: owner[.ownerAccountID] as Any, .groupOwnerAccountID: owner[.groupOwnerAccountID] as Any],
                    ofItemAtPath: path)
            }
            let server = TLSTestServer(cluster: cluster, files: files)
            let admin = try server.url(sslmode: .disable)
            try await TestDatabase.run([
                "ALTER SYSTEM SET ssl_cert_file = '\(certificate.replacingOccurrences(of: "'", with: "''"))'",
                "ALTER SYSTEM SET ssl_key_file = '\(key.replacingOccurrences(of: "'", with: "''"))'",
                "ALTER SYSTEM SET ssl = on",
                "SELECT pg_reload_conf()",
            ], on: admin)
            try await server.waitForTLS(admin)
            return server
        } catch {
            try? cluster.stop()
            throw error
        }
    }

    /// The superuser's URL of the `postgres` database at `host`, with `sslmode` and `sslrootcert` as given.
    public func url(
        host: String = "127.0.0.1", sslmode: PostgresSSLMode, rootCertificate: String? = nil
    ) throws -> DatabaseURL {
        var url = try DatabaseURL(cluster.url(database: "postgres"))
        url.host = host
        url.tlsMode = sslmode
        url.rootCertificate = rootCertificate
        return url
    }

    /// Whether the session on `url` is encrypted (`pg_stat_ssl`); throws when it cannot connect.
    public func sessionIsEncrypted(_ url: DatabaseURL) async throws -> Bool {
        let connection = try await PostgresConnection.connect(
            configuration: url.connectionConfiguration(), id: 11, logger: TestDatabase.logger)
        do {
            var encrypted = false
            let rows = try await connection.query(
                "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()", logger: TestDatabase.logger)
            for try await ssl in rows.decode(Bool.self) { encrypted = ssl }
            try? await connection.close()
            return encrypted
        } catch {
            try? await connection.close()
            throw error
        }
    }

    /// Stops the cluster and removes its files.
    public func stop() {
        try? cluster.stop()
    }

    private func waitForTLS(_ admin: DatabaseURL) async throws {
        for _ in 0..<100 {
            let connection = try await PostgresConnection.connect(
                configuration: admin.connectionConfiguration(), id: 10, logger: TestDatabase.logger)
            let rows = try await connection.query("SHOW ssl", logger: TestDatabase.logger)
            var on = false
            for try await value in rows.decode(String.self) { on = value == "on" }
            try? await connection.close()
            if on { return }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw TLSTestServerError()
    }

    private struct TLSTestServerError: Error, CustomStringConvertible {
        var description: String { "the test cluster did not turn TLS on within 10 s" }
    }
}
