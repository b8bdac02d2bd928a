import Synchronization

/// What `/readyz` reports: whether this replica can serve, and if not, why.
///
/// Later capabilities add their own conditions (policies loaded, ...) as further reasons.
public final class Readiness: Sendable {
    private let reasons = Mutex<[String: String]>(["database": "not yet checked"])

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
}
