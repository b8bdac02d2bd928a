import AirlockAgent
import AirlockServer
import Foundation

/// The `airlock agent` walkthrough of `airlock dev`: a workload token for the service `orders-worker` (group `ci`,
/// which the example policies let read staging at once) in a private file, and an agent configuration keeping a
/// five-minute `orders-staging` login fresh in `STATE/agent/`.
enum DevAgentExample {
    /// Writes the token and the configuration under `state`; returns the configuration's path.
    static func write(state: URL, brokerURL: String, issuer: DevIssuer) async throws -> String {
        let directory = state.appendingPathComponent("agent")
        try FileManager.default.createDirectory(
            at: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let token = try await issuer.issueToken(user: "orders-worker", groups: ["ci"], service: true, ttl: 24 * 3600)
        let tokenFile = directory.appendingPathComponent("token").path
        try CredentialFiles.write(token + "\n", to: tokenFile)
        func file(_ name: String) -> String { directory.appendingPathComponent(name).path }
        let configuration = """
            {
              "broker": "\(brokerURL)",
              "auth": {"token_file": "\(tokenFile)"},
              "listen": "127.0.0.1:0",
              "rotation": {"grace": "30s"},
              "credentials": [{
                "name": "orders",
                "resource": "orders-staging",
                "role": "readonly",
                "ttl": "5m",
                "reason": "airlock dev: the agent walkthrough",
                "outputs": [
                  {"format": "env", "path": "\(file("orders.env"))"},
                  {"format": "pgpass", "path": "\(file("orders.pgpass"))"},
                  {"format": "status", "path": "\(file("orders.status"))"}
                ]
              }]
            }

            """
        let path = file("agent.json")
        try CredentialFiles.write(configuration, to: path)
        return path
    }
}
