import AirlockCore
import Foundation
import Logging
import NIOHTTP1
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

    /// How the API is asked: a person's ask then pickup, or a service's one call (`POST /v1/credentials`).
    enum Flow: String, CaseIterable, Sendable {
        case ask
        case oneCall = "one-call"
    }

    /// `requests` round trips spread over `concurrency` workers, each on its own keep-alive connection with its
    /// own token for a distinct user. The first `verify` logins are used at once (connect, read a table).
    static func run(
        _ environment: BenchIssuanceEnvironment, requests: Int, concurrency: Int, verify: Int, tag: String,
        flow: Flow = .ask, freshConnections: Bool = false
    ) async throws -> BenchIssuanceResult {
        var tokens: [String] = []
        for worker in 0..<concurrency {
            // A CI service is permitted on staging by `ci-staging` (Policies/services.airlock).
            tokens.append(try await environment.issuer.issueToken(
                user: "bench-\(tag)-\(worker)", groups: flow == .ask ? groups : ["ci"], mfa: true,
                service: flow == .oneCall, ttl: 3600))
        }
        let start = ContinuousClock.now
        let parts = try await withThrowingTaskGroup(of: BenchIssuanceResult.self) { group in
            for worker in 0..<concurrency {
                let indices = Array(stride(from: worker, to: requests, by: concurrency))
                let token = tokens[worker]
                group.addTask {
                    try await work(
                        environment, token: token, indices: indices, verify: verify, flow: flow,
                        freshConnections: freshConnections)
                }
            }
            var parts: [BenchIssuanceResult] = []
            for try await part in group { parts.append(part) }
            return parts
        }
        return BenchIssuanceResult(merging: parts, elapsed: start.duration(to: .now))
    }

    /// One worker. With `freshConnections` every HTTP call opens its own TCP connection and closes it after the
    /// answer, as the CLI does; otherwise the worker keeps one connection for all its calls.
    private static func work(
        _ environment: BenchIssuanceEnvironment, token: String, indices: [Int], verify: Int, flow: Flow,
        freshConnections: Bool
    ) async throws -> BenchIssuanceResult {
        var result = BenchIssuanceResult()
        func measure(_ index: Int, _ send: Send) async throws {
            let started = ContinuousClock.now
            let (login, asked) = flow == .ask
                ? try await roundTrip(send, token: token) : try await oneCall(send, token: token)
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
        if freshConnections {
            let port = environment.port
            for index in indices {
                try await measure(index) { method, path, token, body in
                    try await BenchIssuanceHTTP.withConnection(port: port) { connection in
                        try await connection.send(method, path, token: token, body: body)
                    }
                }
            }
        } else {
            try await BenchIssuanceHTTP.withConnection(port: environment.port) { connection in
                for index in indices {
                    try await measure(index) { method, path, token, body in
                        try await connection.send(method, path, token: token, body: body)
                    }
                }
            }
        }
        return result
    }

    /// Sends one HTTP call (on a kept connection or a fresh one).
    private typealias Send = (HTTPMethod, String, String?, JSONValue?) async throws -> BenchIssuanceHTTP.Reply

    /// Asks, checks the policy permitted at once, and picks up the credential.
    private static func roundTrip(
        _ send: Send, token: String
    ) async throws -> (BenchIssuanceLogin, ContinuousClock.Instant) {
        let ask: JSONValue = .object([
            "resource": .string(resource), "role": .string(role), "ttl_seconds": .int(900),
            "reason": .string("airlock bench issuance"),
        ])
        let asked = try await send(.POST, "/v1/access-requests", token, ask)
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
        let picked = try await send(.GET, "/v1/access-requests/\(id)/credentials", token, nil)
        guard picked.status == 200 else { throw failure("picking up the credential", picked) }
        return (try login(picked, "picking up the credential"), askedAt)
    }

    /// A service's one call: `POST /v1/credentials`.
    private static func oneCall(
        _ send: Send, token: String
    ) async throws -> (BenchIssuanceLogin, ContinuousClock.Instant) {
        let ask: JSONValue = .object(["resource": .string(resource), "role": .string(role), "ttl_seconds": .int(900)])
        let issued = try await send(.POST, "/v1/credentials", token, ask)
        guard issued.status == 201 else { throw failure("POST /v1/credentials", issued) }
        return (try login(issued, "POST /v1/credentials"), ContinuousClock.now)
    }

    private static func login(_ reply: BenchIssuanceHTTP.Reply, _ what: String) throws -> BenchIssuanceLogin {
        guard let username = reply.json["username"]?.stringValue, let password = reply.json["password"]?.stringValue,
              let host = reply.json["host"]?.stringValue, let port = reply.json["port"]?.intValue,
              let database = reply.json["database"]?.stringValue else {
            throw failure(what, reply)
        }
        return BenchIssuanceLogin(username: username, password: password, host: host, port: Int(port), database: database)
    }

    /// The HTTP floor: `GET /healthz` round trips on one connection (client, loopback and router, no work), or
    /// each on a fresh connection.
    static func floor(
        _ environment: BenchIssuanceEnvironment, requests: Int, freshConnections: Bool = false
    ) async throws -> BenchIssuanceResult {
        if freshConnections {
            let start = ContinuousClock.now
            var result = BenchIssuanceResult()
            for _ in 0..<requests {
                let started = ContinuousClock.now
                let reply = try await BenchIssuanceHTTP.withConnection(port: environment.port) { connection in
                    try await connection.send(.GET, "/healthz", token: nil)
                }
                guard reply.status == 200 else { throw BenchIssuanceError("/healthz answered HTTP \(reply.status)") }
                result.latencies.append(started.duration(to: .now).milliseconds)
            }
            return BenchIssuanceResult(merging: [result], elapsed: start.duration(to: .now))
        }
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
