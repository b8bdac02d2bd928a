import AirlockCore
import JWTKit
import Foundation
import Synchronization

/// JWTs whose signature this broker has verified, by SHA-256 of the whole token, so the next call with the same
/// token (a CLI's ask then pickup, a service's calls) skips parsing and the signature check.
///
/// Only what cannot change for a given token string is remembered: its issuer, `kid`, the key it was verified with
/// and its claims. A hit is used only while the issuer's key set still hands out that very key for that `kid` (the
/// same loaded collection: a reload, a rotation, a removed key or keys past their maximum staleness all miss, and
/// the token is verified again), and every check that depends on time (`exp`, `nbf`, `iat`, the MFA age) runs on
/// every call, as for a token just verified. A refused token is never remembered. Entries are used at most
/// ``maximumAge``; a full cache is cleared before it stores.
final class VerifiedJWTCache: Sendable {
    struct Entry: Sendable {
        let issuer: String
        let kid: String
        /// The collection the signature was checked with (a reload makes a new one). Held, not just identified: an
        /// `ObjectIdentifier` of a collection that was released could be reused by a new one at the same address
        /// (without the key), and a hit would then skip the signature check against keys that no longer hold it.
        let collection: JWTKeyCollection
        let algorithm: String
        let claims: TokenClaims
        let storedAt: ContinuousClock.Instant
    }

    private let entries = Mutex<[String: Entry]>([:])
    let maximumAge: Duration
    let capacity: Int

    init(maximumAge: Duration = .seconds(300), capacity: Int = 10_000) {
        self.maximumAge = maximumAge
        self.capacity = capacity
    }

    /// The key of `token` in this cache.
    static func key(_ token: String) -> String {
        Digest.sha256Hex(Array(token.utf8))
    }

    /// The entry for `key`, when young enough.
    func entry(for key: String) -> Entry? {
        entries.withLock { entries in
            guard let entry = entries[key] else { return nil }
            guard ContinuousClock.now - entry.storedAt < maximumAge else {
                entries[key] = nil
                return nil
            }
            return entry
        }
    }

    /// Remembers a verified token.
    func store(_ entry: Entry, for key: String) {
        entries.withLock { entries in
            if entries.count >= capacity { entries.removeAll(keepingCapacity: true) }
            entries[key] = entry
        }
    }

    /// How many tokens are remembered (for tests).
    var count: Int { entries.withLock { $0.count } }
}
