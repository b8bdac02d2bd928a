import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The clusters to stop when the process exits (see `LocalPostgresCluster.stopAtExit`).
///
/// Thread safety: the only state is `registry`, a global `Mutex`; every access goes through `withLock`, and the
/// `atexit` handler takes the clusters out under the lock and stops them after releasing it, so a `stop` running
/// on another thread (which calls `forget`, taking the same lock) cannot deadlock with it.
enum ClusterRegistry {
    private struct State: ~Copyable {
        var clusters: [ObjectIdentifier: LocalPostgresCluster] = [:]
        var handlerInstalled = false
    }

    private static let registry = Mutex(State())

    /// Adds `cluster` to the clusters stopped at exit, installing the `atexit` handler on first use.
    static func register(_ cluster: LocalPostgresCluster) {
        let install = registry.withLock { state -> Bool in
            state.clusters[ObjectIdentifier(cluster)] = cluster
            defer { state.handlerInstalled = true }
            return !state.handlerInstalled
        }
        if install {
            atexit { ClusterRegistry.stopAll() }
        }
    }

    /// Removes `cluster`, which was stopped (nothing happens if it was never registered).
    static func forget(_ cluster: LocalPostgresCluster) {
        registry.withLock { state in
            _ = state.clusters.removeValue(forKey: ObjectIdentifier(cluster))
        }
    }

    /// Stops every registered cluster and removes its directory; errors are printed to standard error.
    static func stopAll() {
        let clusters = registry.withLock { state -> [LocalPostgresCluster] in
            defer { state.clusters.removeAll() }
            return Array(state.clusters.values)
        }
        for cluster in clusters {
            do {
                try cluster.stop()
            } catch {
                let line = "airlock: could not stop the local postgresql cluster in \(cluster.directory.path): \(error)\n"
                FileHandle.standardError.write(Data(line.utf8))
            }
        }
    }
}
