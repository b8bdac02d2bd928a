import AirlockCore
import Foundation

/// One numbered SQL file of `Migrations/`, e.g. `0001_initial_schema.sql`.
public struct Migration: Sendable, Equatable {
    /// The number that orders migrations (`1` for `0001_...`).
    public let version: Int
    /// The part of the file name after the number, e.g. `initial_schema`.
    public let name: String
    /// The file name, for messages.
    public let fileName: String
    /// The SQL text.
    public let sql: String
    /// Hex SHA-256 of the file's bytes: an applied migration whose file later changes is refused.
    public let checksum: String

    /// Creates a migration from a file name of the form `NNNN_name.sql` and its contents.
    public init(fileName: String, contents: Data) throws(StoreError) {
        guard let (version, name) = Self.parse(fileName: fileName) else {
            throw StoreError(
                code: "invalid_migration_name",
                message: "migration file `\(fileName)` must be named NNNN_name.sql (digits, then lowercase letters, digits and _)")
        }
        guard let sql = String(data: contents, encoding: .utf8) else {
            throw StoreError(code: "invalid_migration", message: "migration file `\(fileName)` is not valid utf-8")
        }
        self.version = version
        self.name = name
        self.fileName = fileName
        self.sql = sql
        self.checksum = Digest.sha256Hex(Array(contents))
    }

    private static func parse(fileName: String) -> (Int, String)? {
        guard fileName.hasSuffix(".sql") else { return nil }
        let stem = fileName.dropLast(4)
        let parts = stem.split(separator: "_", maxSplits: 1)
        guard parts.count == 2, parts[0].count == 4, parts[0].allSatisfy(\.isWholeNumber), let version = Int(parts[0]),
              version > 0,
              !parts[1].isEmpty,
              parts[1].allSatisfy({ ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "_" })
        else { return nil }
        return (version, String(parts[1]))
    }

    /// Reads every `*.sql` file of `directory`, sorted by version. Two files with one version are an error.
    public static func load(from directory: URL) throws(StoreError) -> [Migration] {
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: directory.path)
        } catch {
            throw StoreError(
                code: "migrations_not_found",
                message: "cannot read the migrations directory `\(directory.path)`")
        }
        var migrations: [Migration] = []
        for name in names.sorted() where name.hasSuffix(".sql") {
            let url = directory.appendingPathComponent(name)
            guard let data = FileManager.default.contents(atPath: url.path) else {
                throw StoreError(code: "invalid_migration", message: "cannot read migration file `\(name)`")
            }
            migrations.append(try Migration(fileName: name, contents: data))
        }
        migrations.sort { $0.version < $1.version }
        for (a, b) in zip(migrations, migrations.dropFirst()) where a.version == b.version {
            throw StoreError(
                code: "duplicate_migration",
                message: "migration files `\(a.fileName)` and `\(b.fileName)` have the same number")
        }
        guard !migrations.isEmpty else {
            throw StoreError(code: "migrations_not_found", message: "no migration files in `\(directory.path)`")
        }
        return migrations
    }

    /// Finds the `Migrations/` directory: `explicit` if given, else `Migrations` in the working directory,
    /// else `share/airlock/Migrations` beside the executable's directory.
    public static func locateDirectory(explicit: String? = nil) -> URL {
        if let explicit { return URL(fileURLWithPath: explicit) }
        let fm = FileManager.default
        let local = URL(fileURLWithPath: fm.currentDirectoryPath).appendingPathComponent("Migrations")
        if fm.fileExists(atPath: local.path) { return local }
        let executable = URL(fileURLWithPath: CommandLine.arguments.first ?? "").resolvingSymlinksInPath()
        let installed = executable.deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("share/airlock/Migrations")
        return fm.fileExists(atPath: installed.path) ? installed : local
    }
}
