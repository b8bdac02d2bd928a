import AirlockCore
import Foundation
import JWTKit
import Logging

/// The signing keys of one issuer, in a `JWTKeyCollection` of its own.
///
/// jwt-kit falls back to a collection's first key for an unknown `kid`; this type never lets that happen: it
/// hands out the collection only for a `kid` it holds, so a key is only ever looked up in its own issuer's set.
/// Keys are (re)loaded when older than ``refreshInterval``, and on an unknown `kid` at most once per
/// ``unknownKeyRefreshInterval`` (key rotation). A failed reload keeps the previous keys.
actor IssuerKeySet {
    /// How long loaded keys are used before they are read again.
    static let refreshInterval: TimeInterval = 300
    /// The least time between two reloads caused by an unknown `kid`.
    static let unknownKeyRefreshInterval: TimeInterval = 30

    /// A usable key: its collection (holding it under its `kid`) and its one accepted algorithm.
    struct Key: Sendable {
        let collection: JWTKeyCollection
        let algorithm: String
    }

    let source: IssuerConfiguration.KeySource
    private let issuer: String
    private let fetcher: any JWKSFetcher
    private let clock: any WallClock
    private let logger: Logger
    private var collection = JWTKeyCollection()
    private var algorithms: [String: String] = [:]
    private var loadedAt: Date?
    private var lastUnknownKeyReload: Date?
    private var reloading: Task<Void, Never>?

    init(issuer: String, source: IssuerConfiguration.KeySource, fetcher: any JWKSFetcher, clock: any WallClock,
         logger: Logger) {
        self.issuer = issuer
        self.source = source
        self.fetcher = fetcher
        self.clock = clock
        self.logger = logger
    }

    /// The key `kid` of this issuer, reloading the set when stale or (rate-limited) when `kid` is unknown.
    func key(for kid: String) async -> Key? {
        let now = clock.now()
        if loadedAt.map({ now.timeIntervalSince($0) >= Self.refreshInterval }) ?? true {
            await reload()
        } else if algorithms[kid] == nil,
                  lastUnknownKeyReload.map({ now.timeIntervalSince($0) >= Self.unknownKeyRefreshInterval }) ?? true {
            lastUnknownKeyReload = now
            await reload()
        }
        guard let algorithm = algorithms[kid] else { return nil }
        return Key(collection: collection, algorithm: algorithm)
    }

    /// Reloads the set; concurrent callers share one reload.
    private func reload() async {
        if let reloading {
            await reloading.value
            return
        }
        let task = Task { await self.performReload() }
        reloading = task
        await task.value
        reloading = nil
    }

    private func performReload() async {
        let attemptedAt = clock.now()
        do {
            let document = try await readDocument()
            let (newCollection, newAlgorithms) = try await Self.parse(document, issuer: issuer, logger: logger)
            collection = newCollection
            algorithms = newAlgorithms
            loadedAt = attemptedAt
        } catch {
            // Keep the previous keys; try again after the refresh interval (not on every request).
            logger.warning(
                "cannot load the issuer's key set; keeping the previous keys",
                metadata: ["issuer": "\(issuer)", "error": "\(error)"])
            loadedAt = attemptedAt
        }
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
