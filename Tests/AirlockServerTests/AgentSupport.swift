import AirlockAgent
import AirlockCore
import AirlockPostgres
import AirlockServer
import AirlockStore
import AirlockTestSupport
import Hummingbird
import HummingbirdTesting
import Foundation
import Logging
import PostgresNIO
import Synchronization
import Testing
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// A broker on a real port with the fixture's target database, and `airlock agent` running in this process against
/// it as a workload (a dev-issuer service JWT in a token file), for the agent's end-to-end tests.
struct AgentFixture {
    static let policies = AccessFlowFixture.policies + """

        permit "apps-short"
          when principal.kind == "service" and "apps" in principal.groups and request.role == "readonly"
          ttl <= 8s;

        permit "batch-readonly"
          when principal.kind == "service" and "batch" in principal.groups and request.role == "readonly"
          ttl <= 1h;
        """

    let flow: AccessFlowFixture
    let config: ServerConfiguration
    let directory: TemporaryDirectory
    /// The broker's log lines, and the agent's.
    let brokerLogs: CapturedLogs
    let agentLogs: CapturedLogs

    static func make() async throws -> AgentFixture {
        let flow = try await AccessFlowFixture.make(policies: policies)
        let brokerLogs = CapturedLogs()
        var config = flow.config
        config.logger = brokerLogs.logger()
        return AgentFixture(
            flow: flow, config: config, directory: try TemporaryDirectory(), brokerLogs: brokerLogs,
            agentLogs: CapturedLogs())
    }

    func path(_ name: String) -> String { directory.url.appendingPathComponent(name).path }

    /// Starts an agent with `configuration`, logging into ``agentLogs``.
    func agent(
        _ configuration: AgentConfiguration, environment: [String: String] = ProcessInfo.processInfo.environment,
        command: [String] = []
    ) throws -> RunningAgent {
        RunningAgent(
            try Agent(configuration: configuration, logger: agentLogs.logger(label: "airlock.agent"), environment: environment),
            command: command)
    }

    /// A workload token for `service` in `groups`, written to a token file of its own; the token and the file's path.
    func tokenFile(_ service: String, groups: [String]) async throws -> (token: String, path: String) {
        let token = try await flow.issuer.issueToken(user: service, groups: groups, service: true)
        let path = self.path("\(service).token")
        try CredentialFiles.write(token + "\n", to: path)
        return (token, path)
    }

    /// The agent's configuration: one credential `name` of `orders-db` readonly with `ttl`, its files in the
    /// fixture's directory (`NAME.json`, `.env`, `.pgpass`, `.status`), and `extra` top-level JSON members.
    func configuration(
        brokerPort: Int, tokenFile: String, name: String, ttl: String, grace: String = "1s", lead: String = "1s",
        onChange: String? = nil, extra: String = ""
    ) throws -> AgentConfiguration {
        let hook = onChange.map { #", "on_change": \#($0)"# } ?? ""
        let text = """
            {"broker": "http://127.0.0.1:\(brokerPort)", "auth": {"token_file": "\(tokenFile)"}, "listen": "127.0.0.1:0",
             "rotation": {"grace": "\(grace)", "lead": "\(lead)"}\(extra),
             "credentials": [{"name": "\(name)", "resource": "orders-db", "role": "readonly", "ttl": "\(ttl)",
               "outputs": [{"format": "json", "path": "\(path(name + ".json"))"},
                           {"format": "env", "path": "\(path(name + ".env"))"},
                           {"format": "pgpass", "path": "\(path(name + ".pgpass"))"},
                           {"format": "status", "path": "\(path(name + ".status"))"}]\(hook)}]}
            """
        return try AgentConfiguration.parse(Data(text.utf8), path: path("agent.json"))
    }

    /// The credential in the JSON file `name.json`, if there is one.
    func handedOver(_ name: String) -> DeliveredCredential? {
        guard let data = FileManager.default.contents(atPath: path(name + ".json")) else { return nil }
        return (try? JSONValue.parse(data)).flatMap(DeliveredCredential.init)
    }

    /// The status file `name.status`.
    func status(_ name: String) -> JSONValue? {
        FileManager.default.contents(atPath: path(name + ".status")).flatMap { try? JSONValue.parse($0) }
    }

    /// The target's roles among `names`.
    func existingRoles(_ names: [String]) async throws -> Set<String> {
        try await TestDatabase.withExisting(flow.target) { database in
            let rows = try await database.client.query(
                "SELECT rolname FROM pg_roles WHERE rolname = ANY(\(names))", logger: TestDatabase.logger)
            var found: Set<String> = []
            for try await name in rows.decode(String.self) { found.insert(name) }
            return found
        }
    }
}

/// Runs `agent` until ``stop()``: its exit status comes from ``finished()``.
final class RunningAgent: Sendable {
    let agent: Agent
    private let stopper: AsyncStream<Void>.Continuation
    private let task: Task<Int32, any Error>

    init(_ agent: Agent, command: [String] = []) {
        self.agent = agent
        let (stream, stopper) = AsyncStream<Void>.makeStream()
        self.stopper = stopper
        task = Task { try await agent.run(command: command) { for await _ in stream { return } } }
    }

    func stop() { stopper.finish() }

    func finished() async throws -> Int32 { try await task.value }

    /// Waits until `condition` holds, checking every 50 ms, at most `seconds`.
    static func wait(upTo seconds: Double, _ condition: () async throws -> Bool) async throws -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if try await condition() { return true }
            try await Task.sleep(for: .milliseconds(50))
        }
        return try await condition()
    }

    /// `GET path` on the agent's own status port: the status and the body.
    func fetch(_ path: String) async throws -> (status: Int, body: String) {
        let port = try #require(agent.statusPort)
        let url = try #require(URL(string: "http://127.0.0.1:\(port)\(path)"))
        let (data, response) = try await URLSession.shared.data(from: url)
        return ((response as? HTTPURLResponse)?.statusCode ?? 0, String(decoding: data, as: UTF8.self))
    }
}

/// What an application does with a pool of sessions: `size` connections run queries back to back; when the
/// credential in the agent's JSON file changes, each connection is replaced, after its query, by one with the new
/// login. Every failed connect or query is recorded.
final class BusyPool: Sendable {
    private let file: String
    private let target: DatabaseURL
    private let stopped = Atomic<Bool>(false)
    private let current = Mutex<DeliveredCredential?>(nil)
    let failures = Mutex<[String]>([])
    let queries = Atomic<Int>(0)
    /// Each login the pool moved to, with when it saw it.
    let logins = Mutex<[(username: String, password: String, seenAt: Date)]>([])

    init(file: String, target: DatabaseURL) {
        self.file = file
        self.target = target
    }

    func stop() { stopped.store(true, ordering: .relaxed) }

    func run(size: Int) async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.watch() }
            for worker in 0..<size { group.addTask { await self.work(id: worker) } }
        }
    }

    private func watch() async {
        while !stopped.load(ordering: .relaxed) {
            if let data = FileManager.default.contents(atPath: file), let json = try? JSONValue.parse(data),
               let credential = DeliveredCredential(json), let username = credential.username,
               current.withLock({ $0?.leaseID }) != credential.leaseID {
                current.withLock { $0 = credential }
                if case .postgres(_, _, _, _, let password, _) = credential.secret {
                    logins.withLock { $0.append((username, password, Date())) }
                }
            }
            try? await Task.sleep(for: .milliseconds(50))
        }
    }

    private func work(id: Int) async {
        var connection: PostgresConnection?
        var user: String?
        while !stopped.load(ordering: .relaxed) {
            guard let credential = current.withLock({ $0 }),
                  case .postgres(let host, let port, let database, let username, let password, _) = credential.secret else {
                try? await Task.sleep(for: .milliseconds(20))
                continue
            }
            if username != user {
                try? await connection?.close()
                connection = nil
                var url = target
                url.host = host
                url.port = port
                url.database = database
                url.username = username
                url.password = password
                do {
                    connection = try await PostgresConnection.connect(
                        configuration: url.connectionConfiguration(), id: id, logger: TestDatabase.logger)
                    user = username
                } catch {
                    failures.withLock { $0.append("connect as \(username): \(describeDatabaseError(error))") }
                    user = nil
                    try? await Task.sleep(for: .milliseconds(50))
                    continue
                }
            }
            do {
                let rows = try await connection!.query("SELECT count(*)::int8 FROM customers", logger: TestDatabase.logger)
                for try await _ in rows.decode(Int64.self) {}
                queries.add(1, ordering: .relaxed)
            } catch {
                failures.withLock { $0.append("query as \(username): \(describeDatabaseError(error))") }
                try? await connection?.close()
                connection = nil
                user = nil
            }
            try? await Task.sleep(for: .milliseconds(10))
        }
        try? await connection?.close()
    }
}
