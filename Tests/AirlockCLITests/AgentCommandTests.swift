import AirlockTestSupport
import Foundation
import Testing

/// `airlock agent` as an operator runs it: a configuration that cannot be used is refused before anything is asked of
/// a broker, with the file and the key named, and the token never printed.
struct AgentCommandTests {
    @Test("a missing file, an unknown key and a broker over plain http are refused with exit 1 and a clear line")
    func badConfigurations() async throws {
        let directory = try TemporaryDirectory()
        let missing = directory.url.appendingPathComponent("absent.json").path
        let result = try await AirlockBinary.run(["agent", "--config", missing])
        #expect(result.status == 1 && result.errors == "error: the agent configuration \(missing): cannot read the file\n",
                "\(result.errors)")

        let unknown = try directory.write("unknown.json", """
            {"broker": "http://127.0.0.1:1", "auth": {"token_env": "T"}, "renew_at": 0.5,
             "credentials": [{"resource": "orders-db", "role": "readonly", "ttl": "1h"}]}
            """)
        let refused = try await AirlockBinary.run(["agent", "--config", unknown], environment: ["T": "alk_neverPrinted123"])
        #expect(refused.status == 1 && refused.errors.contains("unknown key `renew_at`"), "\(refused.errors)")

        let plain = try directory.write("plain.json", """
            {"broker": "http://10.0.0.5:8420", "auth": {"token_env": "T"},
             "credentials": [{"resource": "orders-db", "role": "readonly", "ttl": "1h"}]}
            """)
        let insecure = try await AirlockBinary.run(["agent", "--config", plain, "--dry-run"], environment: ["T": "alk_neverPrinted123"])
        #expect(insecure.status == 1 && insecure.errors.contains("over plain http"), "\(insecure.errors)")
        for run in [refused, insecure] { #expect(!(run.output + run.errors).contains("alk_neverPrinted123")) }
    }

    @Test("--dry-run against a broker that is not there says so per credential and exits 1, without the token")
    func dryRunUnreachable() async throws {
        let directory = try TemporaryDirectory()
        let configuration = try directory.write("agent.json", """
            {"broker": "http://127.0.0.1:1", "auth": {"token_env": "T"},
             "credentials": [{"name": "orders", "resource": "orders-db", "role": "readonly", "ttl": "1h"}]}
            """)
        let result = try await AirlockBinary.run(
            ["agent", "--config", configuration, "--dry-run"], environment: ["T": "alk_neverPrinted123"])
        #expect(result.status == 1)
        #expect(result.output.hasPrefix("orders: cannot reach the broker at http://127.0.0.1:1"), "\(result.output)")
        #expect(!(result.output + result.errors).contains("alk_neverPrinted123"))
    }
}
