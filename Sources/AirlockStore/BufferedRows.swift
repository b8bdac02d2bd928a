import PostgresNIO

/// The rows of a statement, read in full: an `AsyncSequence` of `PostgresRow`, so postgres-nio's `decode(_:)`
/// applies as on a live row sequence.
public typealias QueryRows = BufferedRows<PostgresRow>

/// Rows already read from the server, iterated as an `AsyncSequence`.
public struct BufferedRows<Element: Sendable>: AsyncSequence, Sendable {
    /// The rows, in order.
    public let rows: [Element]

    /// Wraps `rows`.
    public init(_ rows: [Element]) {
        self.rows = rows
    }

    /// The rows as an array (as `PostgresRowSequence.collect()`).
    public func collect() -> [Element] { rows }

    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(base: rows.makeIterator())
    }

    /// Hands out the buffered rows; never throws (declared `throws` so callers' `for try await` reads as before).
    public struct AsyncIterator: AsyncIteratorProtocol {
        var base: IndexingIterator<[Element]>

        public mutating func next() async throws -> Element? {
            base.next()
        }
    }
}
