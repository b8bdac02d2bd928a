import Foundation

/// Where the PostgreSQL server binaries are: `initdb`, `pg_ctl`, `postgres` found on PATH, else the newest
/// /usr/lib/postgresql/*/bin.
///
/// A PATH entry counts only if it holds all three programs. Symbolic links are resolved (so `/usr/local/bin/initdb`
/// pointing into `/usr/lib/postgresql/15/bin` yields that directory), which makes `directory` a good place to look
/// for the client tools (`psql`, `pg_isready`) of the same version.
public struct PostgresBinaries: Sendable {
    /// Absolute path of `initdb`.
    public let initdb: String
    /// Absolute path of `pg_ctl`.
    public let pgCtl: String
    /// The directory holding `initdb`, `pg_ctl` and `postgres`.
    public let directory: String

    /// The programs that must all be present in one directory.
    static let requiredPrograms = ["initdb", "pg_ctl", "postgres"]

    /// Creates a value from explicit paths (no checks are made).
    public init(initdb: String, pgCtl: String, directory: String) {
        self.initdb = initdb
        self.pgCtl = pgCtl
        self.directory = directory
    }

    /// Finds the binaries: first a PATH directory (from `environment`) holding `initdb`, `pg_ctl` and `postgres`,
    /// else the newest `/usr/lib/postgresql/<version>/bin` holding them.
    ///
    /// - Throws: `binaries_not_found` when neither place has them.
    public static func locate(
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws(LocalClusterError) -> PostgresBinaries {
        let pathEntries = (environment["PATH"] ?? "").split(separator: ":").map(String.init).filter { !$0.isEmpty }
        for entry in pathEntries {
            if let found = inDirectory(entry) { return found }
        }
        for directory in versionedDirectories(under: "/usr/lib/postgresql") {
            if let found = inDirectory(directory) { return found }
        }
        throw LocalClusterError(
            code: "binaries_not_found",
            message: "initdb, pg_ctl and postgres were not found together on path or in /usr/lib/postgresql/*/bin; "
                + "install the postgresql server package or add its bin directory to path")
    }

    /// The binaries in `directory` if it holds all required programs, preferring the directory their symbolic
    /// links resolve to when that one holds them all too.
    static func inDirectory(_ directory: String) -> PostgresBinaries? {
        guard hasAll(directory) else { return nil }
        let initdb = (directory as NSString).appendingPathComponent("initdb")
        let resolved = URL(fileURLWithPath: initdb).resolvingSymlinksInPath().deletingLastPathComponent().path
        let chosen = resolved != directory && hasAll(resolved) ? resolved : directory
        return PostgresBinaries(
            initdb: (chosen as NSString).appendingPathComponent("initdb"),
            pgCtl: (chosen as NSString).appendingPathComponent("pg_ctl"),
            directory: chosen)
    }

    /// The `<version>/bin` directories under `root`, newest version first (compared numerically: 16 before 9.6).
    static func versionedDirectories(under root: String) -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []
        let versioned = names.compactMap { name -> (name: String, version: [Int])? in
            let parts = name.split(separator: ".").map { Int($0) }
            guard !parts.isEmpty, parts.allSatisfy({ $0 != nil }) else { return nil }
            return (name, parts.compactMap { $0 })
        }
        let sorted = versioned.sorted { $0.version.lexicographicallyPrecedes($1.version) }.reversed()
        return sorted.map { "\(root)/\($0.name)/bin" }
    }

    private static func hasAll(_ directory: String) -> Bool {
        requiredPrograms.allSatisfy {
            FileManager.default.isExecutableFile(atPath: (directory as NSString).appendingPathComponent($0))
        }
    }
}
