import AirlockCore
import AirlockAgent
import ArgumentParser
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The options every client command shares: where the broker is, who we are, and how to print.
struct ClientOptions: ParsableArguments {
    @Option(help: ArgumentHelp(
        "The broker's URL (env AIRLOCK_ADDR; default \(ClientOptions.defaultAddress)).", valueName: "url"))
    var addr: String?

    @Option(help: ArgumentHelp(
        "A bearer token (env AIRLOCK_TOKEN; default: the token `airlock login` stored).", valueName: "token"))
    var token: String?

    @Flag(help: "Print the broker's JSON answer instead of a human summary.")
    var json = false

    static let defaultAddress = "http://127.0.0.1:8420"

    /// The broker URL from `--addr`, `AIRLOCK_ADDR`, the address `airlock login` stored, or the default.
    var brokerAddress: String { Self.resolveAddress(addr) }

    static func resolveAddress(_ flag: String?) -> String {
        let environment = ProcessInfo.processInfo.environment["AIRLOCK_ADDR"]
        let chosen = flag ?? environment.flatMap { $0.isEmpty ? nil : $0 } ?? TokenFile.storedAddress() ?? defaultAddress
        return chosen.hasSuffix("/") ? String(chosen.dropLast()) : chosen
    }

    /// The token from `--token`, `AIRLOCK_TOKEN`, or the token file; a missing token is a helpful error.
    /// The stored token is bound to the broker `airlock login` stored it for (the default address when none was
    /// stored): a stray `--addr` or `AIRLOCK_ADDR` never sends it to another broker.
    func resolveToken(for address: String) throws -> String {
        if let token, !token.isEmpty { return token }
        if let token = ProcessInfo.processInfo.environment["AIRLOCK_TOKEN"], !token.isEmpty { return token }
        if let token = try TokenFile.read() {
            let issuedFor = TokenFile.storedAddress() ?? Self.defaultAddress
            let bound = (try? BrokerAddress(issuedFor))?.origin
            guard let bound, bound == (try BrokerAddress.checked(address)).origin else {
                throw ClientError(
                    "the stored token was issued for \(TerminalText.escaped(issuedFor)), not \(TerminalText.escaped(address)): "
                        + "log in to that broker (`airlock login --addr URL ...`) or pass --token / AIRLOCK_TOKEN")
            }
            return token
        }
        throw ClientError(
            "not logged in: run `airlock login --dev USER` (against `airlock dev`) or `airlock login --token TOKEN`, "
                + "or set AIRLOCK_TOKEN")
    }

    /// An HTTP client for the broker, with the caller's token.
    func client() throws -> ClientHTTP {
        let address = brokerAddress
        _ = try BrokerAddress.checked(address)
        let token = try resolveToken(for: address)
        return try ClientHTTP(address: address, token: token)
    }
}

/// The token `airlock login` stores: `$AIRLOCK_HOME/token`, else `~/.airlock/token`; the file is mode 0600 in a
/// directory of mode 0700.
enum TokenFile {
    static var directory: String {
        if let home = ProcessInfo.processInfo.environment["AIRLOCK_HOME"], !home.isEmpty { return home }
        return FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".airlock").path
    }

    static var path: String { directory + "/token" }

    /// The stored token, or nil when there is none.
    static func read() throws -> String? {
        let path = self.path
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ClientError("cannot read the token file `\(path)`")
        }
        let token = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        return token.isEmpty ? nil : token
    }

    /// Where `airlock login` keeps the broker address it logged in to (not a secret).
    static var addressPath: String { directory + "/addr" }

    /// The address `airlock login` stored, if any.
    static func storedAddress() -> String? {
        guard let data = FileManager.default.contents(atPath: addressPath) else { return nil }
        let address = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        return address.isEmpty ? nil : address
    }

    /// Stores `token`, and the broker `address` it belongs to, replacing any previous ones atomically; returns
    /// the token file's path.
    @discardableResult
    static func store(_ token: String, address: String? = nil) throws -> String {
        if let address { _ = try writePrivately(address, to: addressPath) }
        return try writePrivately(token, to: path)
    }

    private static func writePrivately(_ text: String, to path: String) throws -> String {
        let directory = self.directory
        if !FileManager.default.fileExists(atPath: directory) {
            guard mkdir(directory, 0o700) == 0 else {
                throw ClientError("cannot create `\(directory)`: \(String(cString: strerror(errno)))")
            }
        }
        _ = chmod(directory, 0o700)
        do {
            try CredentialFiles.write(text + "\n", to: path)
        } catch {
            throw ClientError(error.description)
        }
        return path
    }
}

/// A client-side failure, printed as one line: `error: ...`.
struct ClientError: Error, CustomStringConvertible {
    let description: String
    /// The process exit status.
    let exitCode: Int32

    init(_ description: String, exitCode: Int32 = 1) {
        self.description = description
        self.exitCode = exitCode
    }
}

/// Runs a client command body, printing a ``ClientError`` as `error: ...` on stderr and exiting with its status.
func runClient(_ body: () async throws -> Void) async throws {
    do {
        try await body()
    } catch let error as ClientError {
        if !error.description.isEmpty {
            FileHandle.standardError.write(Data("error: \(error.description)\n".utf8))
        }
        throw ExitCode(error.exitCode)
    }
}
