import AirlockCore
import AirlockPolicy
import Foundation
import Synchronization

/// The policy set this broker decides with, and where it came from.
public struct ActivePolicySet: Sendable {
    /// The validated rules.
    public let policies: PolicySet
    /// The id of its `policy_sets` row, recorded with every decision made under it.
    public let id: UUID
    /// SHA-256 over its files' names and contents: equal digests, equal policies.
    public let digest: String
    /// The directory it was loaded from.
    public let directory: String

    /// Loads and validates `DIR/*.airlock`. A set with any error is never returned: the error lists every
    /// diagnostic (file:line:column, the source line and a caret).
    public static func load(directory: String) throws(PolicyLoadError) -> ActivePolicySet {
        let policies = try PolicySet.load(directory: URL(fileURLWithPath: directory)).get()
        return ActivePolicySet(policies: policies, id: UUID(), digest: digest(of: policies), directory: directory)
    }

    /// The set recorded as `id` by another replica (its files from `policy_sets`), validated here again.
    public static func load(files: [String: String], id: UUID, directory: String) throws(PolicyLoadError) -> ActivePolicySet {
        let sources = files.keys.sorted().map { SourceFile(name: $0, text: files[$0] ?? "") }
        let policies = try PolicySet.load(sources: sources).get()
        return ActivePolicySet(policies: policies, id: id, digest: digest(of: policies), directory: directory)
    }

    /// SHA-256 over the files' names and texts, in order.
    static func digest(of policies: PolicySet) -> String {
        var bytes: [UInt8] = []
        for source in policies.sources {
            bytes += Array(source.name.utf8) + [0] + Array(source.text.utf8) + [0]
        }
        return Digest.sha256Hex(bytes)
    }
}

/// Holds the active policy set; readers get a consistent snapshot, a reload swaps it atomically.
public final class LoadedPolicies: Sendable {
    private let current: Mutex<ActivePolicySet>

    /// Starts with `initial` as the active set.
    public init(_ initial: ActivePolicySet) {
        current = Mutex(initial)
    }

    /// The active set.
    public var active: ActivePolicySet { current.withLock { $0 } }

    /// Makes `set` the active one.
    public func activate(_ set: ActivePolicySet) {
        current.withLock { $0 = set }
    }
}
