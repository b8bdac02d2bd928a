import AirlockCore
import AirlockLocalCluster
import AirlockServer
import AirlockStore
import AirlockTestSupport
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing

/// Builders and readers shared by the server tests.
enum ServerSupport {
    static let requestID = HTTPField.Name("X-Request-Id")!

    /// A server configuration on `url`, with a fresh key ring, listening on an ephemeral port of 127.0.0.1.
    static func configuration(url: DatabaseURL?, migrateOnStart: Bool = false) throws -> ServerConfiguration {
        var settings = AirlockConfiguration()
        settings.databaseURL = url
        settings.keyRing = KeyRing(current: .generate())
        settings.listenHost = "127.0.0.1"
        settings.listenPort = 0
        settings.policiesDirectory = policiesDirectory
        var config = ServerConfiguration(
            settings: settings, migrations: try Migration.load(from: TestDatabase.migrationsDirectory),
            logger: TestDatabase.logger)
        config.migrateOnStart = migrateOnStart
        return config
    }

    /// A policy directory with one small valid rule, written once per test process.
    static let policiesDirectory: String = writePolicies(
        """
        # SREs may read, briefly.
        permit "sre-readonly"
          when "sre" in principal.groups and request.role == "readonly"
          ttl <= 30m;
        """)

    /// Writes `text` as `main.airlock` in a new temporary directory and returns the directory.
    static func writePolicies(_ text: String) -> String {
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("airlock-server-policies-\(UUID().uuidString)")
        try? FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try? Data(text.utf8).write(to: directory.appendingPathComponent("main.airlock"))
        return directory.path
    }

    /// The password of ``unreachableURL()``, which no message may show.
    static let unreachablePassword = "pw-Secret-8c1f"

    /// A URL on 127.0.0.1 at a port where nothing listens.
    static func unreachableURL() throws -> DatabaseURL {
        let port = try FreePort.find()
        return try DatabaseURL("postgres://airlock:\(unreachablePassword)@127.0.0.1:\(port)/airlock?sslmode=disable")
    }

    /// The error object of an API error body.
    struct ErrorBody: Decodable {
        struct Detail: Decodable {
            let code: String
            let message: String
            let request_id: String
        }
        let error: Detail
    }

    static func errorBody(_ response: TestResponse) throws -> ErrorBody.Detail {
        try JSONDecoder().decode(ErrorBody.self, from: Data(String(buffer: response.body).utf8)).error
    }

    static func json(_ response: TestResponse) throws -> [String: String] {
        try JSONDecoder().decode([String: String].self, from: Data(String(buffer: response.body).utf8))
    }

    /// Polls `/readyz` until it answers 200 and returns that answer; throws, showing the last answer, when the
    /// broker is not ready within `limit`.
    @discardableResult
    static func waitUntilReady(_ client: some TestClientProtocol, limit: Duration = .seconds(60)) async throws -> TestResponse {
        try await waitForReadyz(client, limit: limit, expecting: "200") { $0.status == .ok }
    }

    /// Polls `/readyz` until `done` holds for its answer and returns that answer; throws, showing `expected` and
    /// the last answer, when it does not within `limit`.
    @discardableResult
    static func waitForReadyz(
        _ client: some TestClientProtocol, limit: Duration = .seconds(20), expecting expected: String,
        until done: (TestResponse) throws -> Bool
    ) async throws -> TestResponse {
        let deadline = ContinuousClock.now + limit
        while true {
            let response = try await client.execute(uri: "/readyz", method: .get)
            if try done(response) { return response }
            guard ContinuousClock.now < deadline else {
                throw ReadyzTimeout(
                    limit: limit, expected: expected, status: response.status.code, body: String(buffer: response.body))
            }
            try await Task.sleep(for: .milliseconds(100))
        }
    }
}

/// `/readyz` did not give the awaited answer in time.
struct ReadyzTimeout: Error, CustomStringConvertible {
    let limit: Duration
    let expected: String
    let status: Int
    let body: String

    var description: String { "/readyz did not answer \(expected) within \(limit); last answer: \(status) \(body)" }
}
