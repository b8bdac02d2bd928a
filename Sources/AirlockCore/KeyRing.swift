/// The key-encryption keys Airlock holds: the ``current`` one, which wraps every
/// new data key, and any ``previous`` ones, which are kept only to unwrap data
/// keys not yet rewrapped after a rotation.
///
/// To rotate: generate a new KEK, make it current and move the old one to
/// `previous`; rewrap every stored ``WrappedDataKey`` with
/// ``WrappedDataKey/rewrap(using:)``; then drop the old KEK from the ring.
public struct KeyRing: Sendable, Hashable, CustomStringConvertible {
    /// The key that wraps new data keys.
    public let current: KeyEncryptionKey
    /// Older keys that may still have data keys wrapped under them.
    public let previous: [KeyEncryptionKey]

    /// Creates a ring from the current key and, optionally, older keys.
    public init(current: KeyEncryptionKey, previous: [KeyEncryptionKey] = []) {
        self.current = current
        self.previous = previous
    }

    /// Every key in the ring, current first.
    public var keys: [KeyEncryptionKey] {
        [current] + previous
    }

    /// The key whose ``KeyEncryptionKey/id`` is `id`, or `nil` when the ring has none.
    public func key(id: String) -> KeyEncryptionKey? {
        keys.first { $0.id == id }
    }

    /// The ids of the keys, never key bytes.
    public var description: String {
        "KeyRing(current: \(current.id), previous: [\(previous.map(\.id).joined(separator: ", "))])"
    }
}
