import Synchronization

/// Runs concurrent calls of one kind together, as a database commits a group: a caller runs its call at once,
/// alone, while fewer than ``maximumConcurrent`` batches run; callers that arrive while that many run wait, and the
/// first of them, when a batch ends, runs all that waited (up to ``maximumBatch``) as one batch, with its own.
/// Nothing waits for a batch to fill: an idle coalescer adds no delay, and a busy one turns many round trips into a
/// few. Several batches at once keep one that hangs (a target that stopped answering, until its deadline) from
/// holding up every call behind it.
///
/// `batch` gets the items in order and returns one result per item, in the same order.
public final class Coalescer<Item: Sendable, Output: Sendable>: Sendable {
    public typealias Batch = @Sendable (_ items: [Item]) async -> [Result<Output, any Error>]

    private enum Turn: Sendable {
        case done(Result<Output, any Error>)
        /// Run the next batch, this caller's item first.
        case lead
    }

    private struct Waiter: Sendable {
        let item: Item
        let continuation: CheckedContinuation<Turn, Never>
    }

    private struct State: Sendable {
        /// Batches running (or whose leader is about to run one).
        var running = 0
        var waiting: [Waiter] = []
    }

    private let state = Mutex(State())
    public let maximumBatch: Int
    public let maximumConcurrent: Int
    private let batch: Batch

    public init(maximumBatch: Int, maximumConcurrent: Int = 4, batch: @escaping Batch) {
        self.maximumBatch = max(1, maximumBatch)
        self.maximumConcurrent = max(1, maximumConcurrent)
        self.batch = batch
    }

    /// How many calls wait for a batch.
    public var waiting: Int { state.withLock { $0.waiting.count } }

    /// Runs `item`, alone or in a batch with others.
    public func submit(_ item: Item) async throws -> Output {
        let turn = await withCheckedContinuation { (continuation: CheckedContinuation<Turn, Never>) in
            let leads = state.withLock { state -> Bool in
                guard state.running >= maximumConcurrent else {
                    state.running += 1
                    return true
                }
                state.waiting.append(Waiter(item: item, continuation: continuation))
                return false
            }
            if leads { continuation.resume(returning: .lead) }
        }
        switch turn {
        case .done(let result): return try result.get()
        case .lead: return try await lead(item).get()
        }
    }

    /// Runs `item` with the callers waiting, answers them, and hands the lead to the next one waiting.
    private func lead(_ item: Item) async -> Result<Output, any Error> {
        let others = state.withLock { state -> [Waiter] in
            let taken = Array(state.waiting.prefix(maximumBatch - 1))
            state.waiting.removeFirst(taken.count)
            return taken
        }
        let results = await batch([item] + others.map(\.item))
        func result(_ index: Int) -> Result<Output, any Error> {
            results.indices.contains(index) ? results[index] : .failure(CoalescerMissingResult())
        }
        for (index, waiter) in others.enumerated() {
            waiter.continuation.resume(returning: .done(result(index + 1)))
        }
        let next = state.withLock { state -> Waiter? in
            guard !state.waiting.isEmpty else {
                state.running -= 1
                return nil
            }
            return state.waiting.removeFirst()
        }
        next?.continuation.resume(returning: .lead)
        return result(0)
    }
}

/// A batch answered fewer items than it was given (a bug in the batch function).
public struct CoalescerMissingResult: Error, CustomStringConvertible {
    public init() {}
    public var description: String { "internal error: a batched call returned no result for an item" }
}
