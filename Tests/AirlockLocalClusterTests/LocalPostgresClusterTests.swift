import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif
@testable import AirlockLocalCluster

@Suite("LocalPostgresCluster", .timeLimit(.minutes(2)))
struct LocalPostgresClusterTests {
    @Test("starts with password authentication only, and stop leaves nothing behind")
    func lifecycle() throws {
        let cluster = try LocalPostgresCluster.start()
        LocalPostgresCluster.stopAtExit(cluster)
        let directory = cluster.directory.path
        #expect(directory.hasPrefix("/tmp/airlock-pg-"))
        #expect(cluster.host == "127.0.0.1")
        #expect(cluster.superuser == "postgres")
        #expect(cluster.superuserPassword.count == 32)
        #expect(cluster.superuserPassword.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber) })
        #expect(!FileManager.default.fileExists(atPath: "\(directory)/pwfile"))
        #expect(canConnect(port: cluster.port))
        #expect(try tool("pg_isready", ["-h", "127.0.0.1", "-p", "\(cluster.port)"], cluster).status.succeeded)

        // Password authentication everywhere: pg_hba.conf has no `trust` rule.
        let hba = try String(contentsOf: cluster.dataDirectory.appendingPathComponent("pg_hba.conf"), encoding: .utf8)
        let rules = hba.split(separator: "\n").filter { !$0.trimmingCharacters(in: .whitespaces).hasPrefix("#") }
        #expect(!rules.isEmpty)
        #expect(!rules.contains { $0.contains("trust") })
        #expect(rules.contains { $0.contains("scram-sha-256") })

        // Over the socket without a password: refused. With it: accepted, and the settings are in force.
        let socket = ["-w", "-h", cluster.socketDirectory.path, "-p", "\(cluster.port)", "-U", "postgres", "-d", "postgres"]
        let query = ["-tA", "-c", "select current_setting('fsync') || ',' || current_setting('max_connections')"]
        #expect(try !tool("psql", socket + query, cluster).status.succeeded)
        let viaSocket = try tool("psql", socket + query, cluster, password: cluster.superuserPassword)
        #expect(viaSocket.status.succeeded)
        #expect(viaSocket.output.contains("off,1500"))
        // Over TCP with the URL.
        let viaURL = try tool("psql", ["-w", cluster.url(database: "postgres"), "-tA", "-c", "select 41 + 1"], cluster)
        #expect(viaURL.status.succeeded)
        #expect(viaURL.output.contains("42"))
        let wrong = cluster.url(database: "postgres", password: "not-the-password")
        #expect(try !tool("psql", ["-w", wrong, "-c", "select 1"], cluster).status.succeeded)

        let postmaster = try #require(PostmasterProcess.pid(dataDirectory: cluster.dataDirectory.path))
        let family = [postmaster] + PostmasterProcess.children(of: postmaster)
        #expect(family.count > 1)
        try cluster.stop()
        #expect(!FileManager.default.fileExists(atPath: directory))
        #expect(!family.contains(where: PostmasterProcess.isAlivePostgres))
        #expect(!canConnect(port: cluster.port))
        try cluster.stop()  // idempotent
    }

    @Test("keepFiles keeps the directory; a second stop removes it")
    func keepFiles() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("airlock-lc-\(UUID().uuidString)")
        let cluster = try LocalPostgresCluster.start(directory: directory)
        LocalPostgresCluster.stopAtExit(cluster)
        #expect(cluster.directory.path == directory.path)
        #expect(canConnect(port: cluster.port))
        try cluster.stop(keepFiles: true)
        #expect(!canConnect(port: cluster.port))
        #expect(FileManager.default.fileExists(atPath: cluster.logFile.path))
        #expect(PostmasterProcess.pid(dataDirectory: cluster.dataDirectory.path) == nil)
        try cluster.stop()
        #expect(!FileManager.default.fileExists(atPath: directory.path))
    }

    @Test("a port in use fails with the server log quoted, and cleans up")
    func portInUse() throws {
        let (listener, port) = try #require(listen())
        defer { close(listener) }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("airlock-lc-\(UUID().uuidString)")
        let error = #expect(throws: LocalClusterError.self) {
            try LocalPostgresCluster.start(directory: directory, port: port)
        }
        #expect(error?.code == "start_failed")
        #expect(error?.message.contains("Address already in use") == true)
        #expect(error?.message.contains("\n") == false)
        #expect(!FileManager.default.fileExists(atPath: directory.path))
    }

    @Test("a non-empty directory is refused and left alone")
    func nonEmptyDirectory() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("airlock-lc-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("keep.txt")
        try Data("x".utf8).write(to: file)
        let error = #expect(throws: LocalClusterError.self) { try LocalPostgresCluster.start(directory: directory) }
        #expect(error?.code == "directory_not_empty")
        #expect(FileManager.default.fileExists(atPath: file.path))
    }

    @Test("locate falls back to /usr/lib/postgresql/*/bin without PATH")
    func locateWithoutPath() throws {
        let installed = PostgresBinaries.versionedDirectories(under: "/usr/lib/postgresql")
            .contains { FileManager.default.isExecutableFile(atPath: "\($0)/initdb") }
        if installed {
            let binaries = try PostgresBinaries.locate(environment: ["PATH": "/nonexistent"])
            #expect(binaries.directory.hasPrefix("/usr/lib/postgresql/"))
            #expect(binaries.initdb == "\(binaries.directory)/initdb")
            #expect(binaries.pgCtl == "\(binaries.directory)/pg_ctl")
        } else {
            let error = #expect(throws: LocalClusterError.self) {
                try PostgresBinaries.locate(environment: ["PATH": "/nonexistent"])
            }
            #expect(error?.code == "binaries_not_found")
        }
        #expect(PostgresBinaries.versionedDirectories(under: "/nonexistent").isEmpty)
    }

    @Test("url percent-encodes user, password and database")
    func urlEncoding() {
        let cluster = LocalPostgresCluster(
            directory: URL(fileURLWithPath: "/nonexistent"), port: 6543, password: "abcDEF123",
            binaries: PostgresBinaries(initdb: "/x/initdb", pgCtl: "/x/pg_ctl", directory: "/x"),
            account: ServerAccount(switchTo: nil))
        #expect(cluster.url(database: "app") == "postgres://postgres:abcDEF123@127.0.0.1:6543/app?sslmode=disable")
        #expect(cluster.url(database: "a b", user: "u@x", password: "p:/?#%")
            == "postgres://u%40x:p%3A%2F%3F%23%25@127.0.0.1:6543/a%20b?sslmode=disable")
    }

    @Test("errors are one line and name their code")
    func errorFormatting() {
        let error = LocalClusterError(code: "initdb_failed", message: "initdb failed\nline one\n\n  line two  ")
        #expect(error.message == "initdb failed | line one | line two")
        #expect(error.description == "initdb_failed: initdb failed | line one | line two")
    }
}

/// Runs a client tool from the cluster's bin directory (or PATH); its output goes to a temporary file.
private func tool(
    _ name: String, _ arguments: [String], _ cluster: LocalPostgresCluster, password: String? = nil
) throws -> (status: Subprocess.Termination, output: String) {
    let candidates = ["\(cluster.binaries.directory)/\(name)", "/usr/bin/\(name)", "/usr/local/bin/\(name)"]
    let program = try #require(candidates.first { FileManager.default.isExecutableFile(atPath: $0) })
    let log = FileManager.default.temporaryDirectory.appendingPathComponent("airlock-lc-\(UUID().uuidString).log")
    defer { try? FileManager.default.removeItem(at: log) }
    var environment = Subprocess.cleanEnvironment()
    environment["PGCONNECT_TIMEOUT"] = "10"
    if let password { environment["PGPASSWORD"] = password }
    let status = try Subprocess.run(
        program, arguments, workingDirectory: "/", logFile: log.path, environment: environment, timeout: .seconds(30))
    let output = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
    return (status, output)
}

/// Whether a TCP connection to 127.0.0.1:`port` succeeds.
private func canConnect(port: Int) -> Bool {
    let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard descriptor >= 0 else { return false }
    defer { close(descriptor) }
    var address = loopback(port: port)
    let result = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
        }
    }
    return result == 0
}

/// A socket listening on a free port of 127.0.0.1, and that port.
private func listen() -> (Int32, Int)? {
    for _ in 0..<5 {
        guard let port = try? FreePort.find() else { continue }
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = loopback(port: port)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        if bound == 0 && Glibc.listen(descriptor, 1) == 0 { return (descriptor, port) }
        close(descriptor)
    }
    return nil
}

private func loopback(port: Int) -> sockaddr_in {
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = UInt16(port).bigEndian
    address.sin_addr.s_addr = UInt32(0x7f00_0001).bigEndian
    return address
}
