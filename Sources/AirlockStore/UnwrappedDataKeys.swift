import AirlockCore
import Foundation
import Synchronization

/// The data keys this process has unwrapped, by id, so each is unwrapped once; a destroyed data key is forgotten.
final class UnwrappedDataKeys: Sendable {
    /// The key-encryption keys that unwrap (any of them) and wrap (the current one).
    let keyRing: KeyRing
    private let keys = Mutex<[UUID: DataKey]>([:])

    init(keyRing: KeyRing) {
        self.keyRing = keyRing
    }

    /// The data key `wrapped` holds, from memory or unwrapped with the ring.
    ///
    /// - Throws: `unknown_key_encryption_key` when the ring lacks the wrapping KEK; `decryption_failed` when the
    ///   stored blob was tampered with.
    func key(_ wrapped: WrappedDataKey) throws(CryptoError) -> DataKey {
        if let key = cached(wrapped.dataKeyID) { return key }
        let key = try wrapped.unwrap(using: keyRing)
        keys.withLock { $0[key.id] = key }
        return key
    }

    /// The data key `id` if this process has unwrapped it.
    func cached(_ id: UUID) -> DataKey? {
        keys.withLock { $0[id] }
    }

    /// Remembers `key`, which this process generated.
    func remember(_ key: DataKey) {
        keys.withLock { $0[key.id] = key }
    }

    /// Forgets data key `id` (it was destroyed).
    func forget(_ id: UUID) {
        _ = keys.withLock { $0.removeValue(forKey: id) }
    }
}
