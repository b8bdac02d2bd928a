import AirlockCore
import AirlockPolicy
import AirlockStore
import Foundation

/// Re-decides stored requests under a proposed policy set and finds every decision that would change
/// (`airlock policy replay`): a what-if before merging a policy change.
///
/// Each request is decided again on exactly the input stored with it (principal, resource, request, the hour
/// and weekday it was made, its risk), so only the policies differ.
public struct PolicyReplay: Sendable {
    /// One request whose decision would change.
    public struct Change: Sendable, Hashable {
        /// The stored request.
        public var request: DecidedRequest
        /// Its stored decision, the new one, and what differs.
        public var change: DecisionChange
    }

    /// A stored request whose input the proposed set cannot read (for example an attribute the new schema
    /// declares with another type); it counts as a change, since its new decision is unknown.
    public struct Failure: Sendable, Hashable {
        /// The stored request.
        public var request: DecidedRequest
        /// Why it could not be decided, in one line.
        public var message: String
    }

    /// What a replay found.
    public struct Report: Sendable, Hashable {
        /// How many stored requests were re-decided.
        public var examined = 0
        /// The requests whose decision would change, in the order examined (newest first).
        public var changes: [Change] = []
        /// The requests that could not be re-decided.
        public var failures: [Failure] = []

        /// Whether any decision would (or might) change.
        public var hasChanges: Bool { !changes.isEmpty || !failures.isEmpty }
    }

    /// What one re-decided request came to.
    public enum Outcome: Sendable, Hashable {
        /// The new decision grants the same access.
        case unchanged
        /// The new decision differs in outcome, TTL or approvals.
        case changed(DecisionChange)
        /// The stored input cannot be decided under the proposed set; why, in one line.
        case failed(String)
    }

    /// The proposed policy set.
    public let policies: PolicySet

    /// Creates a replay under `policies`.
    public init(policies: PolicySet) {
        self.policies = policies
    }

    /// Decides `request` again and compares the result with its stored decision.
    public func replay(_ request: DecidedRequest) -> Outcome {
        let input: EvaluationInput
        do {
            input = try policies.decodeInput(jsonLine: request.evaluationInput)
        } catch {
            return .failed(error.message)
        }
        let after = policies.evaluate(input)
        return DecisionChange.between(request.decision, after).map(Outcome.changed) ?? .unchanged
    }

    /// Re-decides every request of `history` made at or after `since` (at most `limit`, newest first), a page
    /// at a time.
    public func run(
        _ history: AccessRequestHistory, since: Date, limit: Int? = nil, pageSize: Int = 500
    ) async throws -> Report {
        var report = Report()
        try await history.forEachPage(since: since, limit: limit, pageSize: pageSize) { page in
            for request in page {
                report.examined += 1
                switch replay(request) {
                case .unchanged: break
                case .changed(let change): report.changes.append(Change(request: request, change: change))
                case .failed(let message): report.failures.append(Failure(request: request, message: message))
                }
            }
        }
        return report
    }
}
