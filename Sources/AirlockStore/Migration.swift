import AirlockCore
import Foundation
#if canImport(Glibc)
import Glibc
#endif

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
    ///
    /// Migrations run as the database owner, so what is read is exactly what sits in the directory: a directory or
    /// a `*.sql` file that is a symbolic link is refused (files are opened with `O_NOFOLLOW`), as is anything but a
    /// regular file.
    public static func load(from directory: URL) throws(StoreError) -> [Migration] {
        var status = stat()
        if lstat(directory.path, &status) == 0, status.st_mode & S_IFMT == S_IFLNK {
            throw StoreError(
                code: "migration_symlink",
                message: "the migrations directory `\(directory.path)` is a symbolic link: name the directory itself (database.migrations_dir)")
        }
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: directory.path)
        } catch {
            throw StoreError(
                code: "migrations_not_found",
                message: "cannot read the migrations directory `\(directory.path)` (set database.migrations_dir)")
        }
        var migrations: [Migration] = []
        for name in names.sorted() where name.hasSuffix(".sql") {
            let data = try readFile(directory.appendingPathComponent(name).path, name: name)
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

    /// The bytes of the regular file at `path`, never through a symbolic link.
    private static func readFile(_ path: String, name: String) throws(StoreError) -> Data {
        let descriptor = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK)
        guard descriptor >= 0 else {
            if errno == ELOOP {
                throw StoreError(
                    code: "migration_symlink", message: "migration file `\(name)` is a symbolic link: refused")
            }
            throw StoreError(code: "invalid_migration", message: "cannot read migration file `\(name)`")
        }
        let handle = FileHandle(fileDescriptor: descriptor, closeOnDealloc: true)
        var status = stat()
        guard fstat(descriptor, &status) == 0, status.st_mode & S_IFMT == S_IFREG else {
            throw StoreError(code: "invalid_migration", message: "migration file `\(name)` is not a regular file")
        }
        do {
            return try handle.readToEnd() ?? Data()
        } catch {
            throw StoreError(code: "invalid_migration", message: "cannot read migration file `\(name)`")
        }
    }

    /// Finds the `Migrations/` directory: `explicit` if given, else where ``InstallLayout`` says this executable's
    /// own files are (`../share/airlock/Migrations` beside it, or the checkout of a development build). Never the
    /// working directory.
    public static func locateDirectory(explicit: String? = nil) -> URL {
        if let explicit { return URL(fileURLWithPath: explicit) }
        return InstallLayout.defaultDirectory("Migrations") ?? URL(fileURLWithPath: "/usr/share/airlock/Migrations")
    }
}
