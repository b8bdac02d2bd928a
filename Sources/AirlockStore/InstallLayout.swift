import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Where the running executable keeps its own files (`Migrations/`, the example `Policies/`): the directories Airlock
/// uses when none is configured.
///
/// Never the working directory: `airlock migrate` run from a directory someone else controls must not find their
/// `./Migrations` and run it as the database owner. The executable is located by the kernel (`/proc/self/exe` on
/// Linux, not `argv[0]`, which the caller chooses), symbolic links resolved. Candidates, in order:
///
/// 1. the installed layout: `PREFIX/share/airlock/NAME` for an executable at `PREFIX/bin/airlock`;
/// 2. for a development build, the package checkout it was built in: an executable under `CHECKOUT/.build/` where
///    `CHECKOUT/Package.swift` exists (`swift run airlock`, `swift test`, `.build/debug/airlock`).
public struct InstallLayout: Sendable, Equatable {
    /// The executable's real path.
    public let executable: URL

    /// The layout of an executable at `executable` (already resolved; tests pass made-up paths).
    public init(executable: URL) {
        self.executable = executable.standardizedFileURL
    }

    /// The running process's layout, or nil if the executable's path cannot be read.
    public static let current: InstallLayout? = runningExecutable().map(InstallLayout.init(executable:))

    /// `PREFIX/share/airlock/NAME` for an executable in `PREFIX/bin/`.
    public func installed(_ name: String) -> URL {
        executable.deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("share/airlock", isDirectory: true).appendingPathComponent(name, isDirectory: true)
    }

    /// The package checkout this executable was built in, if it is a development build: the directory holding the
    /// nearest `.build` above the executable, provided it has a `Package.swift`.
    public var checkout: URL? {
        var directory = executable.deletingLastPathComponent()
        while directory.path != "/" && !directory.path.isEmpty {
            if directory.lastPathComponent == ".build" {
                let root = directory.deletingLastPathComponent()
                let manifest = root.appendingPathComponent("Package.swift").path
                return FileManager.default.fileExists(atPath: manifest) ? root : nil
            }
            directory = directory.deletingLastPathComponent()
        }
        return nil
    }

    /// Where `NAME` may be, in the order they are tried: installed, then the checkout of a development build.
    public func candidates(_ name: String) -> [URL] {
        [installed(name)] + (checkout.map { [$0.appendingPathComponent(name, isDirectory: true)] } ?? [])
    }

    /// The first candidate for `name` that exists (as anything: a symbolic link is found here and refused by the
    /// reader), or nil.
    public func locate(_ name: String) -> URL? {
        candidates(name).first { candidate in
            var status = stat()
            return lstat(candidate.path, &status) == 0
        }
    }

    /// The directory `name` resolves to when it is not configured: the first candidate that exists, else the
    /// installed location (so that the error names where it was expected). Nil only if the executable's own path is
    /// unknown.
    public static func defaultDirectory(_ name: String) -> URL? {
        guard let current else { return nil }
        return current.locate(name) ?? current.installed(name)
    }

    private static func runningExecutable() -> URL? {
        #if os(Linux)
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let count = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        guard count > 0 else { return nil }
        let path = String(decoding: buffer[..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return URL(fileURLWithPath: path)
        #else
        return Bundle.main.executableURL?.resolvingSymlinksInPath()
        #endif
    }
}
