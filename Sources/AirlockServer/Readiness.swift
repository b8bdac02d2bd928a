import Synchronization

/// What `/readyz` reports: whether this replica can serve, and if not, why.
///
/// Later capabilities add their own conditions (policies loaded, ...) as further reasons.
public final class Readiness: Sendable {
    private let reasons = Mutex<[String: String]>(["database": "not yet checked"])
    private let serverRunning = Mutex(false)

    /// Creates a readiness state that is not ready until the database has been checked.
    public init() {}

    /// Marks `condition` as not met, with a one-line reason for `/readyz`.
    public func block(_ condition: String, reason: String) {
        reasons.withLock { $0[condition] = reason }
    }

    /// Marks `condition` as met.
    public func clear(_ condition: String) {
        _ = reasons.withLock { $0.removeValue(forKey: condition) }
    }

    /// The unmet conditions and their reasons, sorted by condition.
    public var unmet: [(condition: String, reason: String)] {
        reasons.withLock { $0.sorted { $0.key < $1.key }.map { ($0.key, $0.value) } }
    }

    /// Whether `condition` is met.
    public func isMet(_ condition: String) -> Bool {
        reasons.withLock { $0[condition] == nil }
    }

    /// Whether every condition is met.
    public var isReady: Bool { reasons.withLock { $0.isEmpty } }

    /// Records that the HTTP server is listening (``buildApplication(config:)``'s `onServerRunning`).
    public func markServerRunning() {
        serverRunning.withLock { $0 = true }
    }

    /// Waits until the HTTP server is listening, at most `limit`. A background service that stops the broker (a
    /// refused catalog, pending migrations) calls this before it throws, so the shutdown its error starts always
    /// begins from a running server: one that reached the server while it was still starting was seen to wait on
    /// its child channel (Hummingbird 2.28) instead of exiting.
    func serverStarted(within limit: Duration) async {
        let deadline = ContinuousClock.now + limit
        while !serverRunning.withLock({ $0 }), ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(20))
        }
    }
}
