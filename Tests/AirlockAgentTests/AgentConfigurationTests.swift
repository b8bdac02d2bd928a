import AirlockAgent
import Foundation
import Testing

/// The agent's configuration file is read strictly: every mistake is refused before anything is asked of the
/// broker, with the key and the file named.
@Suite
struct AgentConfigurationTests {
    static func parse(_ text: String) throws(AgentConfigurationError) -> AgentConfiguration {
        try AgentConfiguration.parse(Data(text.utf8), path: "/etc/airlock/agent.json")
    }

    static let minimal = """
        {"broker": "http://127.0.0.1:8420", "auth": {"token_file": "/run/token"},
         "credentials": [{"resource": "orders-db", "role": "readonly", "ttl": "1h"}]}
        """

    @Test("a minimal file: the credential named after its resource, defaults for everything else")
    func minimalFile() throws {
        let configuration = try Self.parse(Self.minimal)
        let credential = try #require(configuration.credentials.first)
        #expect(credential.name == "orders-db" && credential.ttlSeconds == 3600 && credential.reason == "airlock agent: orders-db")
        #expect(credential.outputs.isEmpty && credential.onChange == nil && credential.environmentPrefix.isEmpty)
        #expect(configuration.authentication == .tokenFile("/run/token"))
        #expect(configuration.graceSeconds == 30 && configuration.leadSeconds == 10 && configuration.revokeOnExit)
        #expect(configuration.applicationRotation == .restart && configuration.listen == nil)
    }

    @Test("a full file: outputs, hooks, prefixes, the status listener and the application's rotation")
    func fullFile() throws {
        let configuration = try Self.parse("""
            {"broker": "https://airlock.internal:8420", "auth": {"token_env": "AIRLOCK_AGENT_TOKEN"},
             "listen": "127.0.0.1:8421", "rotation": {"grace": "1m", "lead": "15s"}, "revoke_on_exit": false,
             "application": {"on_rotation": "signal", "signal": "USR1", "stop_timeout": "20s"},
             "credentials": [
               {"name": "orders", "resource": "orders-db", "role": "readonly", "ttl": "1h", "reason": "orders-api",
                "outputs": [{"format": "env", "path": "/run/airlock/orders.env"},
                            {"format": "pgpass", "path": "/run/airlock/pgpass"},
                            {"format": "status", "path": "/run/airlock/orders.status"}],
                "on_change": {"command": ["/usr/bin/systemctl", "reload", "orders"]}},
               {"name": "payments", "resource": "payments-api", "role": "read", "ttl": "15m", "env_prefix": "PAYMENTS_",
                "outputs": [{"format": "dsn", "path": "/run/airlock/payments.token"}],
                "on_change": {"signal": "SIGHUP", "pid_file": "/run/orders.pid"}}]}
            """)
        #expect(configuration.authentication == .tokenEnvironment("AIRLOCK_AGENT_TOKEN"))
        #expect(configuration.listen == .init(host: "127.0.0.1", port: 8421))
        #expect(configuration.graceSeconds == 60 && configuration.leadSeconds == 15 && !configuration.revokeOnExit)
        #expect(configuration.applicationRotation == .signal(SIGUSR1) && configuration.stopTimeoutSeconds == 20)
        #expect(configuration.credentials.map(\.name) == ["orders", "payments"])
        #expect(configuration.credentials[0].outputs.map(\.format) == [.env, .pgpass, .status])
        #expect(configuration.credentials[0].onChange == .command(["/usr/bin/systemctl", "reload", "orders"]))
        #expect(configuration.credentials[1].onChange == .signal(SIGHUP, pidFile: "/run/orders.pid"))
        #expect(configuration.credentials[1].environmentPrefix == "PAYMENTS_")
    }

    @Test("every mistake is refused with the file, the key and the fix", arguments: [
        (#"{"broker": "http://10.0.0.5:8420", "auth": {"token_file": "/t"}, "credentials": [{"resource": "a", "role": "r", "ttl": "1h"}]}"#,
         "over plain http"),
        (#"{"broker": "ftp://x", "auth": {"token_file": "/t"}, "credentials": [{"resource": "a", "role": "r", "ttl": "1h"}]}"#,
         "is not an http(s) URL"),
        (#"{"broker": "http://127.0.0.1:1", "auth": {}, "credentials": [{"resource": "a", "role": "r", "ttl": "1h"}]}"#,
         "`auth` needs exactly one of"),
        (#"{"broker": "http://127.0.0.1:1", "auth": {"token_file": "/t", "token_env": "X"}, "credentials": [{"resource": "a", "role": "r", "ttl": "1h"}]}"#,
         "`auth` needs exactly one of"),
        (#"{"broker": "http://127.0.0.1:1", "auth": {"token_file": "/t"}, "credentials": []}"#, "at least one credential"),
        (#"{"broker": "http://127.0.0.1:1", "auth": {"token_file": "/t"}, "credentails": [], "credentials": [{"resource": "a", "role": "r", "ttl": "1h"}]}"#,
         "unknown key `credentails`"),
        (#"{"broker": "http://127.0.0.1:1", "auth": {"token_file": "/t"}, "credentials": [{"resource": "a", "role": "r", "ttl": "an hour"}]}"#,
         "`credentials[0].ttl` `an hour` is not a duration"),
        (#"{"broker": "http://127.0.0.1:1", "auth": {"token_file": "/t"}, "credentials": [{"resource": "a", "role": "r", "ttl": "1s"}]}"#,
         "at least 2s"),
        (#"{"broker": "http://127.0.0.1:1", "auth": {"token_file": "/t"}, "credentials": [{"resource": "a", "role": "r", "ttl": "1h", "outputs": [{"format": "yaml", "path": "/x"}]}]}"#,
         "`credentials[0].outputs[0].format` `yaml` must be one of: env, json, dsn, pgpass, status"),
        (#"{"broker": "http://127.0.0.1:1", "auth": {"token_file": "/t"}, "credentials": [{"resource": "a", "role": "r", "ttl": "1h", "outputs": [{"format": "env", "path": "relative.env"}]}]}"#,
         "must be an absolute file path"),
        (#"{"broker": "http://127.0.0.1:1", "auth": {"token_file": "/t"}, "credentials": [{"name": "a", "resource": "a", "role": "r", "ttl": "1h", "outputs": [{"format": "env", "path": "/x"}]}, {"name": "b", "resource": "b", "role": "r", "ttl": "1h", "env_prefix": "B_", "outputs": [{"format": "json", "path": "/x"}]}]}"#,
         "`/x` is written by both `a` and `b`"),
        (#"{"broker": "http://127.0.0.1:1", "auth": {"token_file": "/t"}, "credentials": [{"resource": "a", "role": "r", "ttl": "1h"}, {"resource": "b", "role": "r", "ttl": "1h"}]}"#,
         "give all but one an `env_prefix`"),
        (#"{"broker": "http://127.0.0.1:1", "auth": {"token_file": "/t"}, "credentials": [{"resource": "a", "role": "r", "ttl": "1h"}, {"resource": "a", "role": "w", "ttl": "1h", "env_prefix": "W_"}]}"#,
         "two credentials are named `a`"),
        (#"{"broker": "http://127.0.0.1:1", "auth": {"token_file": "/t"}, "credentials": [{"resource": "a", "role": "r", "ttl": "1h", "env_prefix": "PGX_"}]}"#,
         "not starting with a digit or `PG`"),
        (#"{"broker": "http://127.0.0.1:1", "auth": {"token_file": "/t"}, "credentials": [{"resource": "a", "role": "r", "ttl": "1h", "on_change": {"signal": "KILL", "pid_file": "/p"}}]}"#,
         "must be one of SIGHUP"),
        (#"{"broker": "http://127.0.0.1:1", "auth": {"token_file": "/t"}, "credentials": [{"resource": "a", "role": "r", "ttl": "1h", "on_change": {"command": "systemctl reload x"}}]}"#,
         "non-empty list of strings (no shell is used)"),
        (#"{"broker": "http://127.0.0.1:1", "auth": {"token_file": "/t"}, "listen": "8421", "credentials": [{"resource": "a", "role": "r", "ttl": "1h"}]}"#,
         "must be HOST:PORT"),
        (#"{"broker": "http://127.0.0.1:1", "auth": {"token_file": "/t"}, "application": {"on_rotation": "reload"}, "credentials": [{"resource": "a", "role": "r", "ttl": "1h"}]}"#,
         "must be restart, signal or none"),
        (#"{"broker": "http://127.0.0.1:1", "broker": "http://127.0.0.2:1"}"#, "not valid JSON"),
        ("[]", "`(top level)` must be an object"),
    ])
    func mistakes(_ text: String, _ expected: String) {
        do {
            _ = try Self.parse(text)
            Issue.record("accepted: \(text)")
        } catch {
            #expect(error.description.hasPrefix("/etc/airlock/agent.json: "))
            #expect(error.description.contains(expected), "\(error.description)")
        }
    }

    @Test("a missing file says so")
    func missingFile() {
        #expect(throws: AgentConfigurationError.self) { try AgentConfiguration.load(path: "/nonexistent/agent.json") }
    }
}
