import AirlockCore
import Foundation
import JWTKit
import Logging

/// The signing keys of one issuer, in a `JWTKeyCollection` of its own.
///
/// jwt-kit falls back to a collection's first key for an unknown `kid`; this type never lets that happen: it
/// hands out the collection only for a `kid` it holds, so a key is only ever looked up in its own issuer's set.
///
/// When keys are read (``Schedule``):
/// - Keys older than ``Schedule/refreshInterval`` are read again in the background: verification goes on with the
///   keys it has and never waits for that refresh. A failed refresh keeps the keys and is tried again after
///   ``Schedule/retryInterval``.
/// - An unknown `kid` reloads the set at once, at most once per ``Schedule/unknownKeyInterval``; a reload that
///   finds the `kid` serves it to the caller that asked and to every caller waiting on the same reload. Unknown
///   `kid`s refused by that limit do not move it: a genuinely rotated key waits at most that interval however
///   many random `kid`s arrive.
/// - Keys last read more than ``Schedule/maximumStaleness`` ago are not used: with the key set unreachable that
///   long, the issuer's tokens are refused until a read succeeds. So a key removed at the identity provider
///   verifies tokens for at most the refresh interval plus one fetch while the provider answers, and for at most
///   the maximum staleness when it does not.
actor IssuerKeySet {
    /// When keys are read again and how long they may be used.
    struct Schedule: Sendable, Equatable {
        /// How long loaded keys are used before they are read again in the background (`jwks_refresh_seconds`).
        var refreshInterval: TimeInterval = 60
        /// How long after the last successful read keys may still be used (`jwks_max_stale_seconds`).
        var maximumStaleness: TimeInterval = 600
        /// The least time between two reloads caused by an unknown `kid`.
        var unknownKeyInterval: TimeInterval = 5
        /// The least time between a failed read and the next background attempt.
        var retryInterval: TimeInterval = 5
    }

    /// A usable key: its collection (holding it under its `kid`) and its one accepted algorithm.
    struct Key: Sendable {
        let collection: JWTKeyCollection
        let algorithm: String
    }

    /// The keys of the last successful read.
    private struct Loaded {
        let collection: JWTKeyCollection
        let algorithms: [String: String]
        let readAt: Date
    }

    let source: IssuerConfiguration.KeySource
    let schedule: Schedule
    private let issuer: String
    private let fetcher: any JWKSFetcher
    private let clock: any WallClock
    private let logger: Logger
    private var loaded: Loaded?
    /// No background read starts before this (after a failed one).
    private var nextAttempt = Date.distantPast
    private var lastUnknownKeyReload: Date?
    private var reloading: Task<Void, Never>?

    init(issuer: String, source: IssuerConfiguration.KeySource, fetcher: any JWKSFetcher, clock: any WallClock,
         schedule: Schedule = Schedule(), logger: Logger) {
        self.issuer = issuer
        self.source = source
        self.fetcher = fetcher
        self.clock = clock
        self.schedule = schedule
        self.logger = logger
    }

    /// The key `kid` of this issuer, or nil when the issuer has no such key (or no keys recent enough).
    ///
    /// Waits for a read only when it cannot answer without one: no usable keys (the first read, or keys past the
    /// maximum staleness), or an unknown `kid` that may reload now or that a running read may bring.
    func key(for kid: String) async -> Key? {
        let now = clock.now()
        if let loaded, now.timeIntervalSince(loaded.readAt) < schedule.maximumStaleness {
            if now.timeIntervalSince(loaded.readAt) >= schedule.refreshInterval, now >= nextAttempt {
                _ = reload()  // in the background: the keys in hand answer meanwhile
            }
            if let key = lookup(kid) { return key }
            if let reloading {
                await reloading.value  // a read under way may bring the rotated key
            } else if lastUnknownKeyReload.map({ now.timeIntervalSince($0) >= schedule.unknownKeyInterval }) ?? true {
                lastUnknownKeyReload = now
                await reload().value
            }
            return lookup(kid)
        }
        // Nothing usable: the first read, or keys too old to trust. Wait for a read, unless one just failed.
        if let reloading {
            await reloading.value
        } else if now >= nextAttempt {
            await reload().value
        }
        return lookup(kid)
    }

    /// The key `kid` among keys recent enough to use.
    private func lookup(_ kid: String) -> Key? {
        guard let loaded, clock.now().timeIntervalSince(loaded.readAt) < schedule.maximumStaleness,
              let algorithm = loaded.algorithms[kid] else { return nil }
        return Key(collection: loaded.collection, algorithm: algorithm)
    }

    /// The read under way, or a new one; concurrent callers share one read.
    private func reload() -> Task<Void, Never> {
        if let reloading { return reloading }
        let task = Task { await self.performReload() }
        reloading = task
        return task
    }

    private func performReload() async {
        let attemptedAt = clock.now()
        do {
            let document = try await readDocument()
            let (collection, algorithms) = try await Self.parse(document, issuer: issuer, logger: logger)
            loaded = Loaded(collection: collection, algorithms: algorithms, readAt: attemptedAt)
            nextAttempt = .distantPast
        } catch {
            // Keep the previous keys (until they pass the maximum staleness); try again after the retry interval.
            let age = loaded.map { attemptedAt.timeIntervalSince($0.readAt) }
            logger.warning(
                "cannot load the issuer's key set; keeping the previous keys",
                metadata: [
                    "issuer": "\(issuer)", "error": "\(error)",
                    "keys_age_seconds": "\(age.map { String(Int($0)) } ?? "none")",
                    "max_stale_seconds": "\(Int(schedule.maximumStaleness))",
                ])
            nextAttempt = attemptedAt.addingTimeInterval(schedule.retryInterval)
        }
        reloading = nil
    }

    private func readDocument() async throws -> Data {
        switch source {
        case .document(let text):
            return Data(text.utf8)
        case .file(let path):
            return try Data(contentsOf: URL(fileURLWithPath: path))
        case .url(let url):
            guard url.scheme?.lowercased() == "https" else { throw JWKSFetchError("only https key set urls are allowed") }
            return try await fetcher.fetch(url)
        }
    }

    /// A collection holding the usable keys of `document`, and each key's algorithm by `kid`.
    ///
    /// Keys without `kid`, encryption keys (`use: enc`), symmetric or unknown key types are skipped; private
    /// parts are dropped. A key without `alg` gets the one algorithm its type implies (EC curves their ES
    /// algorithm, OKP EdDSA, RSA RS256), so a header can never pick a weaker one.
    static func parse(
        _ document: Data, issuer: String, logger: Logger
    ) async throws -> (JWTKeyCollection, [String: String]) {
        let set = try JSONDecoder().decode(LenientKeySet.self, from: document)
        let collection = JWTKeyCollection()
        var algorithms: [String: String] = [:]
        for entry in set.keys {
            guard var jwk = entry.jwk, entry.use != "enc", let kid = jwk.keyIdentifier?.string, !kid.isEmpty,
                  algorithms[kid] == nil, let algorithm = impliedAlgorithm(jwk)
            else { continue }
            jwk.algorithm = algorithm
            jwk.privateExponent = nil
            jwk.prime1 = nil
            jwk.prime2 = nil
            do {
                try await collection.add(jwk: jwk)
                algorithms[kid] = algorithm.rawValue
            } catch {
                logger.warning("skipping an unusable key", metadata: ["issuer": "\(issuer)", "kid": "\(kid)"])
            }
        }
        return (collection, algorithms)
    }

    private static func impliedAlgorithm(_ jwk: JWK) -> JWK.Algorithm? {
        let curve = jwk.curve?.rawValue
        let implied: [JWK.Algorithm]
        switch jwk.keyType {
        case .ecdsa:
            switch curve {
            case "P-256": implied = [.es256]
            case "P-384": implied = [.es384]
            case "P-521": implied = [.es512]
            default: implied = []
            }
        case .octetKeyPair: implied = curve == "Ed25519" ? [.eddsa] : []
        case .rsa: implied = [.rs256, .rs384, .rs512, .ps256, .ps384, .ps512]
        default: implied = []
        }
        guard let declared = jwk.algorithm else { return implied.first }
        return implied.contains(declared) ? declared : nil
    }

    private struct LenientKeySet: Decodable {
        let keys: [LenientKey]
    }

    private struct LenientKey: Decodable {
        let jwk: JWK?
        let use: String?

        private enum CodingKeys: String, CodingKey { case use }

        init(from decoder: any Decoder) throws {
            jwk = try? JWK(from: decoder)
            use = try? decoder.container(keyedBy: CodingKeys.self).decodeIfPresent(String.self, forKey: .use)
        }
    }
}
