import AirlockStore
import AirlockTestSupport
import Foundation
import Testing

/// Issue 11 item 5: migrations are found beside the executable (or in the checkout of a development build), never in
/// the working directory, and a migration reached through a symbolic link is refused.
@Suite("Where migrations come from")
struct MigrationLocationTests {
    @Test("a migration file that is a symbolic link is refused, wherever it points")
    func symlinkedFileRefused() throws {
        let elsewhere = try TemporaryDirectory(files: ["evil.sql": "CREATE TABLE pwned (x int);"])
        let directory = try TemporaryDirectory(files: ["0001_a.sql": "CREATE TABLE a (x int);"])
        try FileManager.default.createSymbolicLink(
            atPath: directory.url.appendingPathComponent("0002_b.sql").path,
            withDestinationPath: elsewhere.url.appendingPathComponent("evil.sql").path)
        let error = try #require(throws: StoreError.self) { try Migration.load(from: directory.url) }
        #expect(error.code == "migration_symlink")
        #expect(error.message.contains("0002_b.sql"))
    }

    @Test("a migrations directory that is a symbolic link is refused")
    func symlinkedDirectoryRefused() throws {
        let real = try TemporaryDirectory(files: ["0001_a.sql": "CREATE TABLE a (x int);"])
        let parent = try TemporaryDirectory()
        let link = parent.url.appendingPathComponent("Migrations")
        try FileManager.default.createSymbolicLink(atPath: link.path, withDestinationPath: real.url.path)
        let error = try #require(throws: StoreError.self) { try Migration.load(from: link) }
        #expect(error.code == "migration_symlink")
        #expect(try Migration.load(from: real.url).count == 1)
    }

    @Test("a *.sql entry that is not a regular file is refused")
    func directoryNamedLikeAMigrationRefused() throws {
        let directory = try TemporaryDirectory(files: ["0001_a.sql": "CREATE TABLE a (x int);"])
        try FileManager.default.createDirectory(
            at: directory.url.appendingPathComponent("0002_b.sql"), withIntermediateDirectories: false)
        let error = try #require(throws: StoreError.self) { try Migration.load(from: directory.url) }
        #expect(error.code == "invalid_migration")
    }

    @Test("with nothing configured, a development build uses the Migrations of the checkout it was built in")
    func developmentDefault() {
        // The working directory is never consulted (AirlockCLITests runs `airlock migrate` from a hostile one);
        // the test binary lives in this checkout's .build.
        let located = Migration.locateDirectory()
        #expect(located.standardizedFileURL.path == TestDatabase.migrationsDirectory.standardizedFileURL.path)
    }

    @Test("the installed layout is PREFIX/share/airlock beside PREFIX/bin")
    func installedLayout() {
        let layout = InstallLayout(executable: URL(fileURLWithPath: "/opt/airlock/bin/airlock"))
        #expect(layout.installed("Migrations").path == "/opt/airlock/share/airlock/Migrations")
        #expect(layout.checkout == nil)
        #expect(layout.candidates("Policies").map(\.path) == ["/opt/airlock/share/airlock/Policies"])
    }

    @Test("a development build finds the checkout it was built in, after the installed layout")
    func developmentLayout() throws {
        let checkout = try TemporaryDirectory(files: ["Package.swift": "// swift-tools-version: 6.1\n"])
        let executable = checkout.url.appendingPathComponent(".build/x86_64-unknown-linux-gnu/debug/airlock")
        let layout = InstallLayout(executable: executable)
        #expect(layout.checkout?.standardizedFileURL.path == checkout.url.standardizedFileURL.path)
        #expect(layout.candidates("Migrations").map(\.lastPathComponent) == ["Migrations", "Migrations"])
        #expect(layout.candidates("Migrations").last?.standardizedFileURL.path
                == checkout.url.appendingPathComponent("Migrations").standardizedFileURL.path)
        #expect(layout.locate("Migrations") == nil)
        try FileManager.default.createDirectory(
            at: checkout.url.appendingPathComponent("Migrations"), withIntermediateDirectories: false)
        #expect(layout.locate("Migrations")?.standardizedFileURL.path
                == checkout.url.appendingPathComponent("Migrations").standardizedFileURL.path)
        // A .build without a Package.swift beside it is no checkout.
        let stray = InstallLayout(executable: URL(fileURLWithPath: "/nonexistent/.build/debug/airlock"))
        #expect(stray.checkout == nil)
    }
}
