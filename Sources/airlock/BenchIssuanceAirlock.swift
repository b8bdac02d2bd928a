import AirlockCore
import Foundation
import Logging
import PostgresNIO

/// The Airlock side of `airlock bench issuance`: auto-permitted ask + pickup round trips over the HTTP API.
enum BenchIssuanceAirlock {
    /// The auto-permitted path of the example policies: `staging-engineers` (any role on staging for users in
    /// `backend`, `sre` or `dba`), which does not depend on the hour.
    static let resource = "orders-staging"
    /// The database of ``resource`` in Policies/resources.json.
    static let targetDatabase = "orders_staging"
    static let role = "readonly"
    static let groups = ["sre"]

    /// `requests` round trips spread over `concurrency` workers, each on its own keep-alive connection with its
    /// own token for a distinct user. The first `verify` logins are used at once (connect, read a table).
    static func run(
        _ environment: BenchIssuanceEnvironment, requests: Int, concurrency: Int, verify: Int, tag: String
    ) async throws -> BenchIssuanceResult {
        var tokens: [String] = []
        for worker in 0..<concurrency {
            tokens.append(try await environment.issuer.issueToken(
                user: "bench-\(tag)-\(worker)", groups: groups, mfa: true, ttl: 3600))
        }
        let start = ContinuousClock.now
        let parts = try await withThrowingTaskGroup(of: BenchIssuanceResult.self) { group in
            for worker in 0..<concurrency {
                let indices = Array(stride(from: worker, to: requests, by: concurrency))
                let token = tokens[worker]
                group.addTask {
                    try await work(environment, token: token, indices: indices, verify: verify)
                }
            }
            var parts: [BenchIssuanceResult] = []
            for try await part in group { parts.append(part) }
            return parts
        }
        return BenchIssuanceResult(merging: parts, elapsed: start.duration(to: .now))
    }

    private static func work(
        _ environment: BenchIssuanceEnvironment, token: String, indices: [Int], verify: Int
    ) async throws -> BenchIssuanceResult {
        var result = BenchIssuanceResult()
        try await BenchIssuanceHTTP.withConnection(port: environment.port) { connection in
            for index in indices {
                let started = ContinuousClock.now
                let (login, asked) = try await roundTrip(&connection, token: token)
                result.latencies.append(started.duration(to: .now).milliseconds)
                result.asks.append(started.duration(to: asked).milliseconds)
                if result.username == nil { result.username = login.username }
                if index < verify {
                    let returned = ContinuousClock.now
                    try await BenchIssuanceLogin.check(login, logger: environment.logger)
                    result.verified += 1
                    result.loginReady.append(returned.duration(to: .now).milliseconds)
                }
            }
        }
        return result
    }

    /// Asks, checks the policy permitted at once, and picks up the credential.
    private static func roundTrip(
        _ connection: inout BenchIssuanceHTTP, token: String
    ) async throws -> (BenchIssuanceLogin, ContinuousClock.Instant) {
        let ask: JSONValue = .object([
            "resource": .string(resource), "role": .string(role), "ttl_seconds": .int(900),
            "reason": .string("airlock bench issuance"),
        ])
        let asked = try await connection.send(.POST, "/v1/access-requests", token: token, body: ask)
        guard asked.status == 201, let id = asked.json["id"]?.stringValue else {
            throw failure("asking", asked)
        }
        guard asked.json["status"]?.stringValue == "approved" else {
            let status = asked.json["status"]?.stringValue ?? "?"
            throw BenchIssuanceError(
                "the request was `\(status)`, not auto-approved: the policies must permit \(groups[0]) users "
                    + "\(role) on \(resource) without approval (see Policies/staging.airlock)")
        }
        let askedAt = ContinuousClock.now
        let picked = try await connection.send(.GET, "/v1/access-requests/\(id)/credentials", token: token)
        guard picked.status == 200, let username = picked.json["username"]?.stringValue,
              let password = picked.json["password"]?.stringValue, let host = picked.json["host"]?.stringValue,
              let port = picked.json["port"]?.intValue, let database = picked.json["database"]?.stringValue else {
            throw failure("picking up the credential", picked)
        }
        let login = BenchIssuanceLogin(
            username: username, password: password, host: host, port: Int(port), database: database)
        return (login, askedAt)
    }

    /// The HTTP floor: `GET /healthz` round trips on one connection (client, loopback and router, no work).
    static func floor(_ environment: BenchIssuanceEnvironment, requests: Int) async throws -> BenchIssuanceResult {
        let start = ContinuousClock.now
        var result = BenchIssuanceResult()
        try await BenchIssuanceHTTP.withConnection(port: environment.port) { connection in
            for _ in 0..<requests {
                let started = ContinuousClock.now
                let reply = try await connection.send(.GET, "/healthz", token: nil)
                guard reply.status == 200 else { throw BenchIssuanceError("/healthz answered HTTP \(reply.status)") }
                result.latencies.append(started.duration(to: .now).milliseconds)
            }
        }
        return BenchIssuanceResult(merging: [result], elapsed: start.duration(to: .now))
    }

    /// The broker's error code and message (never a secret: error bodies carry none).
    private static func failure(_ what: String, _ reply: BenchIssuanceHTTP.Reply) -> BenchIssuanceError {
        let error = reply.json["error"]
        let message = error?["message"]?.stringValue ?? "unexpected answer"
        let code = error?["code"]?.stringValue.map { " (\($0))" } ?? ""
        return BenchIssuanceError("\(what) failed: HTTP \(reply.status): \(message)\(code)")
    }
}

/// An issued (or raw) login, held only in memory for the check that it works.
struct BenchIssuanceLogin: Sendable {
    let username: String
    let password: String
    let host: String
    let port: Int
    let database: String

    /// Connects as the login and reads a table: the login must work the moment it is returned.
    static func check(_ login: BenchIssuanceLogin, logger: Logger) async throws {
        let configuration = PostgresConnection.Configuration(
            host: login.host, port: login.port, username: login.username, password: login.password,
            database: login.database, tls: .disable)
        let connection: PostgresConnection
        do {
            connection = try await PostgresConnection.connect(configuration: configuration, id: 1, logger: logger)
        } catch {
            throw BenchIssuanceError("the login \(login.username) cannot connect right after issuance")
        }
        do {
            let rows = try await connection.query("SELECT count(*)::int8 FROM public.orders", logger: logger).collect()
            guard try rows.first?.decode(Int64.self) ?? 0 > 0 else {
                throw BenchIssuanceError("the login \(login.username) read no rows from public.orders")
            }
        } catch let error as BenchIssuanceError {
            try? await connection.close()
            throw error
        } catch {
            try? await connection.close()
            throw BenchIssuanceError("the login \(login.username) cannot read public.orders right after issuance")
        }
        try await connection.close()
    }
}

extension Duration {
    /// The duration in milliseconds.
    var milliseconds: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) * 1_000 + Double(attoseconds) / 1e15
    }
}
