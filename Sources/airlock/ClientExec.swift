import AirlockAgent
import AirlockCore
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Picking up a credential and running a command with it: the secret goes into the child's environment
/// only, never into the parent's output or environment.
enum ClientExec {
    /// `GET /v1/access-requests/{id}/credentials`: mints the credential (once), sealed to this process's key.
    static func pickUp(_ client: ClientHTTP, id: String) async throws -> ClientHTTP.Reply {
        try await client.sealedCredential("GET", "/v1/access-requests/\(pathSegment(id))/credentials")
    }

    /// Prints a picked-up credential the way `creds` does.
    static func show(_ reply: ClientHTTP.Reply, format: CredentialFormat, json: Bool) throws {
        if json {
            print(reply.text)
            return
        }
        let credential = try reply.json()
        print(ClientOutput.credential(credential, format: format))
        if format != .json { ClientOutput.note(ClientOutput.credentialNote(credential)) }
    }

    /// The child's environment: the parent's without `AIRLOCK_TOKEN` and without any variable libpq reads
    /// (every name starting with `PG`: `PGHOSTADDR`, `PGSERVICE`, `PGSERVICEFILE`, `PGSYSCONFDIR`, `PGPASSFILE`,
    /// `PGOPTIONS`, `PGSSLMODE`, ... could send the credential elsewhere or change the connection), then exactly
    /// the credential's variables (for a PostgreSQL login, `PGSSLMODE` is the broker's `sslmode`).
    static func childEnvironment(parent: [String: String], credential: JSONValue) -> [String: String] {
        ApplicationEnvironment.make(
            parent: parent.filter { $0.key != "AIRLOCK_TOKEN" },
            credentials: DeliveredCredential(credential).map { [("", $0)] } ?? [])
    }

    /// Runs `command` with the credential's variables (``childEnvironment(parent:credential:)``) and returns its
    /// exit status (128 + signal when a signal ended it).
    static func run(_ command: [String], credential: JSONValue) throws -> Int32 {
        let environment = childEnvironment(parent: ProcessInfo.processInfo.environment, credential: credential)
        // Like system(3): while the child runs, Ctrl-C is the child's to handle; the parent waits for it.
        let previousInterrupt = signal(SIGINT, SIG_IGN)
        let previousQuit = signal(SIGQUIT, SIG_IGN)
        defer {
            signal(SIGINT, previousInterrupt)
            signal(SIGQUIT, previousQuit)
        }
        fflush(nil)
        let pid: pid_t
        do {
            pid = try ApplicationProcess.spawn(command, environment: environment)
        } catch {
            throw ClientError(error.description, exitCode: command.isEmpty ? 1 : 127)
        }
        let program = command[0]
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 {
            guard errno == EINTR else { throw ClientError("lost track of `\(program)`: \(String(cString: strerror(errno)))") }
        }
        let signalNumber = status & 0x7f
        return signalNumber == 0 ? (status >> 8) & 0xff : 128 + signalNumber
    }

    /// Picks up and runs: the shared end of `exec` and `request --wait -- COMMAND`.
    static func pickUpAndRun(_ client: ClientHTTP, id: String, command: [String]) async throws {
        let reply = try await pickUp(client, id: id)
        let credential = try reply.json()
        ClientOutput.note(ClientOutput.credentialNote(credential))
        let status = try run(command, credential: credential)
        if status != 0 { throw ClientError.silent(status) }
    }
}

extension ClientError {
    /// An exit status with nothing to print (the child already spoke).
    static func silent(_ status: Int32) -> ClientError { ClientError("", exitCode: status) }
}
