import Foundation
import Testing
@testable import AirlockLocalCluster

/// Issue 11 item 12: the PostgreSQL tools, and the server they start, get an allow-listed environment: a superuser
/// of the cluster can read the server's (`COPY … FROM PROGRAM 'env'`), so no secret of the caller may be in it.
@Suite("The environment of the cluster's processes")
struct ClusterEnvironmentTests {
    @Test func onlyAllowListedVariablesReachTheTools() {
        let caller = [
            "PATH": "/usr/bin:/bin", "HOME": "/root", "TZ": "UTC", "LANG": "C.UTF-8", "LC_ALL": "C", "LC_CTYPE": "C",
            "AIRLOCK_MASTER_KEY": "akek1_secret", "AIRLOCK_TOKEN": "alk_secret", "AIRLOCK_PREVIOUS_MASTER_KEYS": "x",
            "PGPASSWORD": "pw", "PGHOST": "elsewhere", "AWS_SECRET_ACCESS_KEY": "aws", "LD_PRELOAD": "/tmp/evil.so",
        ]
        let child = Subprocess.cleanEnvironment(caller)
        #expect(Set(child.keys) == ["PATH", "HOME", "TZ", "LANG", "LC_ALL", "LC_CTYPE"])
        #expect(child["PATH"] == "/usr/bin:/bin")
    }

    @Test("a cluster started with secrets in the caller's environment keeps them from its server", .timeLimit(.minutes(2)))
    func theServerInheritsNoSecret() throws {
        var environment = ProcessInfo.processInfo.environment
        environment["AIRLOCK_MASTER_KEY"] = "akek1_cluster_environment_canary"
        environment["CLUSTER_CANARY"] = "not-for-postgres"
        let cluster = try LocalPostgresCluster.start(environment: environment)
        defer { try? cluster.stop() }
        let pid = try #require(PostmasterProcess.pid(dataDirectory: cluster.dataDirectory.path))
        let data = try #require(FileManager.default.contents(atPath: "/proc/\(pid)/environ"))
        let names = data.split(separator: 0).map { String(decoding: $0.prefix(while: { $0 != UInt8(ascii: "=") }), as: UTF8.self) }
        #expect(names.contains("PATH"))
        #expect(!names.contains("AIRLOCK_MASTER_KEY"))
        #expect(!names.contains("CLUSTER_CANARY"))
    }
}
