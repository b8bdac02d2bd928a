import AirlockAgent
import Foundation
import Testing

@Suite
struct AgentConfigurationTests {
    @Test func placeholder() throws {
        let configuration = try AgentConfiguration.parse(Data("""
            {"broker": "http://127.0.0.1:8420", "auth": {"token_file": "/run/token"},
             "credentials": [{"resource": "orders-db", "role": "readonly", "ttl": "1h"}]}
            """.utf8), path: "agent.json")
        #expect(configuration.credentials.first?.name == "orders-db")
    }
}
