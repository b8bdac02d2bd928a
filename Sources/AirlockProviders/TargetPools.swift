import AirlockCore
import AirlockPostgres
import Logging
import PostgresNIO
import ServiceLifecycle
import Synchronization

/// One small connection pool (`PostgresClient`) per target, created on first use and run by ``run()``.
///
/// A pool is created only after one direct connection has succeeded, so a wrong address or admin password fails
/// at once with a clear error instead of leaving the pool retrying forever.
final class TargetPools: Sendable {
    private enum Phase {
        case idle, running, stopped
    }

    /// What decides a pool: where it connects and as whom (not, say, the issued logins' connection limit).
    private struct Key: Hashable {
        init(_ target: PostgresTarget) {
            self.endpoint = [
                target.host, String(target.port), target.database, target.sslMode.rawValue, target.sslRootCert ?? "",
                target.adminUser,
            ]
            self.password = target.adminPassword
        }

        var endpoint: [String]
        var password: String
    }

    private struct State {
        var phase = Phase.idle
        var pools: [Key: Task<PostgresClient, any Error>] = [:]
    }

    private let state = Mutex(State())
    private let started: AsyncStream<PostgresClient>
    private let starter: AsyncStream<PostgresClient>.Continuation
    private let maximumConnections: Int
    private let logger: Logger

    init(maximumConnections: Int, logger: Logger) {
        (started, starter) = AsyncStream.makeStream(of: PostgresClient.self)
        self.maximumConnections = maximumConnections
        self.logger = logger
    }

    /// Runs every pool, those created before and while it runs, until cancelled or graceful shutdown.
    func run() async throws {
        let alreadyStarted = state.withLock { state in
            guard state.phase == .idle else { return true }
            state.phase = .running
            return false
        }
        guard !alreadyStarted else {
            throw ProviderError(code: "provider_already_running", message: "run() may be called once")
        }
        defer {
            state.withLock { $0.phase = .stopped }
            starter.finish()
        }
        let started = self.started
        await cancelWhenGracefulShutdown {
            await withDiscardingTaskGroup { group in
                for await client in started {
                    group.addTask { await client.run() }
                }
            }
        }
    }

    /// The pool for `target`, creating (after a successful test connection) and starting it on first use.
    func client(for target: PostgresTarget) async throws -> PostgresClient {
        let task: Task<PostgresClient, any Error> = try state.withLock { state in
            if state.phase == .stopped {
                throw ProviderError(code: "provider_stopped", message: "the PostgreSQL provider has stopped")
            }
            if let existing = state.pools[Key(target)] { return existing }
            let task = Task { try await self.open(target) }
            state.pools[Key(target)] = task
            return task
        }
        do {
            return try await task.value
        } catch {
            state.withLock { state in
                if state.pools[Key(target)] == task { state.pools[Key(target)] = nil }  // let the next call try again
            }
            throw error
        }
    }

    /// A single direct connection to `target`, for one-off work outside the pool.
    static func connect(_ target: PostgresTarget, logger: Logger) async throws -> PostgresConnection {
        do {
            return try await PostgresConnection.connect(
                configuration: try connectionConfiguration(target), id: 0, logger: logger)
        } catch let error as ProviderError {
            throw error
        } catch {
            throw ProviderError(
                code: "target_unreachable",
                message: "cannot connect to \(target.host):\(target.port)/\(target.database) as "
                    + "\(target.adminUser): \(describeDatabaseError(error))",
                redacting: [target.adminPassword])
        }
    }

    private func open(_ target: PostgresTarget) async throws -> PostgresClient {
        let probe = try await Self.connect(target, logger: logger)
        try? await probe.close()
        var configuration = PostgresClient.Configuration(
            host: target.host, port: target.port, username: target.adminUser, password: target.adminPassword,
            database: target.database, tls: Self.tls(target).client)
        configuration.options.maximumConnections = maximumConnections
        configuration.options.minimumConnections = 1
        configuration.options.connectTimeout = .seconds(5)
        var background = logger
        background.logLevel = max(logger.logLevel, .error)
        let client = PostgresClient(configuration: configuration, backgroundLogger: background)
        starter.yield(client)
        return client
    }

    /// The TLS settings of `target`'s `sslmode` and `sslrootcert`.
    static func tls(_ target: PostgresTarget) -> PostgresTLS {
        PostgresTLS(sslmode: target.sslMode.rawValue, rootCertificate: target.sslRootCert)
    }

    private static func connectionConfiguration(_ target: PostgresTarget) throws -> PostgresConnection.Configuration {
        let tls = try Self.tls(target).connection()
        var configuration = PostgresConnection.Configuration(
            host: target.host, port: target.port, username: target.adminUser, password: target.adminPassword,
            database: target.database, tls: tls)
        configuration.options.connectTimeout = .seconds(5)
        return configuration
    }
}
