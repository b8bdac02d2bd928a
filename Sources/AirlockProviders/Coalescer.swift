import Synchronization

/// Runs concurrent calls of one kind together, as a database commits a group: the first caller runs its call at
/// once, alone; callers that arrive while a batch runs wait, and the first of them then runs all that waited (up to
/// ``maximumBatch``) as one batch, with its own. Nothing waits for a batch to fill: an idle coalescer adds no delay,
/// and a busy one turns many round trips into a few.
///
/// `batch` gets the items in order and returns one result per item, in the same order.
final class Coalescer<Item: Sendable, Output: Sendable>: Sendable {
    typealias Batch = @Sendable (_ items: [Item]) async -> [Result<Output, any Error>]

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
        /// Whether a batch runs (or its leader is about to run one).
        var running = false
        var waiting: [Waiter] = []
    }

    private let state = Mutex(State())
    let maximumBatch: Int
    private let batch: Batch

    init(maximumBatch: Int, batch: @escaping Batch) {
        self.maximumBatch = max(1, maximumBatch)
        self.batch = batch
    }

    /// Runs `item`, alone or in a batch with others.
    func submit(_ item: Item) async throws -> Output {
        let turn = await withCheckedContinuation { (continuation: CheckedContinuation<Turn, Never>) in
            let leads = state.withLock { state -> Bool in
                guard state.running else {
                    state.running = true
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
                state.running = false
                return nil
            }
            return state.waiting.removeFirst()
        }
        next?.continuation.resume(returning: .lead)
        return result(0)
    }
}

/// A batch answered fewer items than it was given (a bug in the batch function).
struct CoalescerMissingResult: Error, CustomStringConvertible {
    var description: String { "internal error: a batched call returned no result for an item" }
}
