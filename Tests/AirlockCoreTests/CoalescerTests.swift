import AirlockCore
import Synchronization
import Testing

/// Revocation steps on one target share round trips (issue 13): calls that arrive while batches run go together in
/// the next one, each gets its own result, and an idle coalescer runs a call at once.
@Suite struct CoalescerTests {
    final class Recorder: Sendable {
        let batches = Mutex<[[Int]]>([])
        /// Holds the first batch until released, so the others queue behind it.
        let gate = Mutex<CheckedContinuation<Void, Never>?>(nil)
        let gateOpened = Mutex(false)

        func open() {
            let waiting = gate.withLock { gate -> CheckedContinuation<Void, Never>? in
                defer { gate = nil }
                return gate
            }
            gateOpened.withLock { $0 = true }
            waiting?.resume()
        }
    }

    @Test("an idle coalescer runs a call at once, alone")
    func idle() async throws {
        let recorder = Recorder()
        let coalescer = Coalescer<Int, Int>(maximumBatch: 8, maximumConcurrent: 1) { items in
            recorder.batches.withLock { $0.append(items) }
            return items.map { .success($0 * 10) }
        }
        #expect(try await coalescer.submit(1) == 10)
        #expect(try await coalescer.submit(2) == 20)
        #expect(recorder.batches.withLock { $0 } == [[1], [2]])
    }

    @Test("calls arriving while a batch runs go together in the next, each with its own result")
    func queuedCallsShareABatch() async throws {
        let recorder = Recorder()
        let coalescer = Coalescer<Int, Int>(maximumBatch: 3, maximumConcurrent: 1) { items in
            let first = recorder.batches.withLock { batches -> Bool in
                batches.append(items)
                return batches.count == 1
            }
            if first && !recorder.gateOpened.withLock({ $0 }) {
                await withCheckedContinuation { continuation in recorder.gate.withLock { $0 = continuation } }
            }
            return items.map { $0 == 4 ? .failure(CoalescerMissingResult()) : .success($0 * 10) }
        }
        try await withThrowingTaskGroup(of: (Int, Int?).self) { group in
            group.addTask { (0, try await coalescer.submit(0)) }
            // The first batch is running (and held); these five queue.
            while recorder.batches.withLock({ $0.isEmpty }) { await Task.yield() }
            for item in 1...5 {
                group.addTask { (item, try? await coalescer.submit(item)) }
            }
            while coalescer.waiting < 5 || recorder.gate.withLock({ $0 == nil }) { await Task.yield() }
            recorder.open()
            var results: [Int: Int?] = [:]
            for try await (item, result) in group { results[item] = result }
            #expect(results[0] == 0 && results[1] == 10 && results[3] == 30 && results[5] == 50)
            #expect(results[4] == .some(nil), "a failed item fails alone")
        }
        let batches = recorder.batches.withLock { $0 }
        #expect(batches.first == [0])
        #expect(batches.dropFirst().map(\.count) == [3, 2], "\(batches)")
        #expect(Set(batches.joined()) == Set(0...5))
    }
}
