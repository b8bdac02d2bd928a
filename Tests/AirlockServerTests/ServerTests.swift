import AirlockServer
import AirlockStore
import AirlockTestSupport
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Synchronization
import Testing

@Suite("HTTP server: health, readiness, metrics, request ids, errors", .timeLimit(.minutes(2)))
struct ServerTests {
    typealias S = ServerSupport

    @Test("/healthz answers 200 {\"status\":\"ok\"} as JSON, with the server name")
    func healthz() async throws {
        let app = try buildApplication(config: S.configuration(url: try await TestDatabase.fresh()))
        try await app.test(.live) { client in
            let response = try await client.execute(uri: "/healthz", method: .get)
            #expect(response.status == .ok)
            #expect(response.headers[.contentType] == "application/json")
            #expect(String(buffer: response.body) == #"{"status":"ok"}"#)
            #expect(response.headers[.server] == "airlock")
        }
    }

    @Test("/readyz becomes 200 {\"status\":\"ready\"} once the database is checked; onServerRunning gets the port")
    func readyz() async throws {
        let reported = Mutex<Int?>(nil)
        var config = try S.configuration(url: try await TestDatabase.fresh())
        config.onServerRunning = { port in reported.withLock { $0 = port } }
        let app = try buildApplication(config: config)
        try await app.test(.live) { client in
            let response = try await S.waitUntilReady(client)
            #expect(response.status == .ok, "\(String(buffer: response.body))")
            #expect(try S.json(response) == ["status": "ready"])
            let port = try #require(reported.withLock { $0 })
            #expect(port != 0)
            #expect(port == client.port)
        }
    }

    @Test("/metrics serves the registry as Prometheus text")
    func metrics() async throws {
        let config = try S.configuration(url: try await TestDatabase.fresh())
        let gauge = config.metrics.makeGauge(
            descriptor: .init(metricName: "airlock_test_leases", unitName: "active", helpText: "Leases now active."))
        gauge.set(7.0)
        let counter = config.metrics.makeCounter(
            descriptor: .init(metricName: "airlock_test_revocations", unitName: "total", helpText: "Revocations by outcome."),
            labels: [("outcome", "ok")])
        counter.increment(by: Int64(3))
        let app = try buildApplication(config: config)
        try await app.test(.live) { client in
            let response = try await client.execute(uri: "/metrics", method: .get)
            #expect(response.status == .ok)
            #expect(response.headers[.contentType]?.hasPrefix("text/plain") == true)
            let text = String(buffer: response.body)
            #expect(text.contains("# TYPE airlock_test_leases_active gauge"), "\(text)")
            #expect(text.contains("# HELP airlock_test_leases_active Leases now active."))
            #expect(text.split(separator: "\n").contains { $0.hasPrefix("airlock_test_leases_active 7") }, "\(text)")
            #expect(text.contains("# TYPE airlock_test_revocations_total counter"))
            #expect(text.contains(#"airlock_test_revocations_total{outcome="ok"} 3"#), "\(text)")
            gauge.set(11.0)
            let again = String(buffer: try await client.execute(uri: "/metrics", method: .get).body)
            #expect(again.split(separator: "\n").contains { $0.hasPrefix("airlock_test_leases_active 11") })
        }
    }

    @Test("every response gets a fresh X-Request-Id when the caller sends none", arguments: ["/healthz", "/readyz", "/metrics", "/nope"])
    func generatedRequestID(uri: String) async throws {
        let app = try buildApplication(config: S.configuration(url: try await TestDatabase.fresh()))
        try await app.test(.live) { client in
            let first = try await client.execute(uri: uri, method: .get)
            let second = try await client.execute(uri: uri, method: .get)
            let one = try #require(first.headers[S.requestID])
            let two = try #require(second.headers[S.requestID])
            #expect(one != two)
            #expect(UUID(uuidString: one) != nil, "\(one)")
            #expect(one == one.lowercased())
            // A random (version 4, RFC 4122 variant) UUID.
            #expect(Array(one)[14] == "4", "\(one)")
            #expect("89ab".contains(Array(one)[19]), "\(one)")
        }
    }

    @Test("a sane caller X-Request-Id is echoed, also in error bodies", arguments: ["abc-123", "Trace.ID_42"])
    func echoedRequestID(id: String) async throws {
        let app = try buildApplication(config: S.configuration(url: try await TestDatabase.fresh()))
        try await app.test(.live) { client in
            let ok = try await client.execute(uri: "/healthz", method: .get, headers: [S.requestID: id])
            #expect(ok.headers[S.requestID] == id)
            let missing = try await client.execute(uri: "/v1/nothing", method: .get, headers: [S.requestID: id])
            #expect(missing.headers[S.requestID] == id)
            #expect(try S.errorBody(missing).request_id == id)
        }
    }

    @Test("an insane caller X-Request-Id is replaced", arguments: [
        String(repeating: "x", count: 129), "has spaces in it", "quote\"d", "a,b",
    ])
    func replacedRequestID(id: String) async throws {
        let app = try buildApplication(config: S.configuration(url: try await TestDatabase.fresh()))
        try await app.test(.live) { client in
            let response = try await client.execute(uri: "/healthz", method: .get, headers: [S.requestID: id])
            #expect(response.status == .ok)
            let returned = try #require(response.headers[S.requestID])
            #expect(returned != id)
            #expect(UUID(uuidString: returned) != nil)
        }
    }

    @Test("an unknown route is 404 with the JSON error body carrying the request id", arguments: [
        ("/nope", HTTPRequest.Method.get), ("/v2/access-requests/123", .get), ("/healthz/extra", .get),
    ])
    func notFound(uri: String, method: HTTPRequest.Method) async throws {
        let app = try buildApplication(config: S.configuration(url: try await TestDatabase.fresh()))
        try await app.test(.live) { client in
            let response = try await client.execute(uri: uri, method: method)
            #expect(response.status == .notFound)
            #expect(response.headers[.contentType] == "application/json")
            let error = try S.errorBody(response)
            #expect(error.code == "not_found")
            #expect(!error.message.isEmpty)
            #expect(error.request_id == response.headers[S.requestID])
        }
    }

    @Test("buildApplication without a database URL or key ring names the missing setting")
    func buildRequiresSettings() async throws {
        var noDatabase = try S.configuration(url: nil)
        let database = #expect(throws: ConfigurationError.self) { try buildApplication(config: noDatabase) }
        #expect(database?.key == "database.url")

        noDatabase.settings.databaseURL = try DatabaseURL("postgres://airlock@127.0.0.1:1/airlock")
        noDatabase.settings.keyRing = nil
        let keys = #expect(throws: ConfigurationError.self) { try buildApplication(config: noDatabase) }
        #expect(keys?.key == "keys.master_key_file")
    }
}
