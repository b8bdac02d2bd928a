import AirlockCore
import Foundation
import Logging
import PostgresNIO

/// The outcome of walking the audit chain.
public struct ChainVerification: Sendable, Equatable {
    /// The first problem found in the chain.
    public struct Problem: Sendable, Equatable {
        /// The sequence number where the chain first goes wrong.
        public let sequence: Int64
        /// What is wrong there, in one line.
        public let reason: String
    }

    /// How many chained events were checked before stopping (all of them when the chain is intact).
    public let checked: Int64
    /// The sequence and hash of the last good event (the chain's head when intact).
    public let lastSequence: Int64
    public let lastHash: String
    /// Committed events not yet chained (normally zero or a handful written in the last fraction of a second).
    public let unchained: Int64
    /// The first bad sequence, or nil if the chain is intact.
    public let problem: Problem?

    /// Whether the chain verified end to end.
    public var isIntact: Bool { problem == nil }
}

/// Walks the audit chain from the first event and reports the first sequence that does not verify.
///
/// Each event must have the next sequence number (no gaps), a `prevhash` equal to the previous event's hash,
/// a hash equal to SHA-256(prevhash || stored canonical bytes), stored bytes that are canonical JSON, and
/// indexed columns that agree with those bytes.
///
/// In a keyed chain (``AuditChainKey``) the hash of a keyed event is HMAC-SHA-256 under the key its row names, and
/// that key must be among `chainKeys`. Given keys, every event from `keyedFrom` on must be keyed: otherwise a
/// database writer could replace keyed events by plain SHA-256 ones it can compute. Without keys, a keyed event
/// cannot be checked and is reported; a plain event after a keyed one is always a rewrite.
public struct ChainVerifier: Sendable {
    let database: Database
    let pageSize: Int
    let chainKeys: [String: AuditChainKey]
    let keyedFrom: Int64?

    /// Creates a verifier reading `pageSize` events at a time; with `chainKeys`, of a chain keyed from sequence
    /// `keyedFrom` (1 when nil: keyed from its first event).
    public init(database: Database, pageSize: Int = 2000, chainKeys: [AuditChainKey] = [], keyedFrom: Int64? = nil) {
        self.database = database
        self.pageSize = pageSize
        self.chainKeys = Dictionary(chainKeys.map { ($0.keyID, $0) }, uniquingKeysWith: { first, _ in first })
        self.keyedFrom = chainKeys.isEmpty ? keyedFrom : (keyedFrom ?? 1)
    }

    /// Verifies the whole chain.
    public func verify(logger: Logger) async throws -> ChainVerification {
        var expected: Int64 = 1
        var previousHash = AuditChain.genesisHash
        var checked: Int64 = 0
        var problem: ChainVerification.Problem?
        var firstKeyed: Int64?

        pages: while true {
            let rows = try await database.client.query(
                """
                SELECT sequence, id, type, prevhash, hash, event, chain_key_id FROM audit_events
                WHERE sequence >= \(expected) ORDER BY sequence LIMIT \(pageSize)
                """, logger: logger)
            var count = 0
            for try await (sequence, id, type, prevhash, hash, event, keyID)
                in rows.decode((Int64, UUID, String, String, String, String, String?).self) {
                count += 1
                let reason = keyProblem(sequence: sequence, keyID: keyID, firstKeyed: firstKeyed) ?? Self.check(
                    sequence: sequence, expected: expected, id: id, type: type, prevhash: prevhash, hash: hash,
                    event: event, previousHash: previousHash, key: keyID.flatMap { chainKeys[$0] })
                if let reason {
                    problem = .init(sequence: sequence == expected ? sequence : expected, reason: reason)
                    break pages
                }
                previousHash = hash
                if keyID != nil, firstKeyed == nil { firstKeyed = sequence }
                checked += 1
                expected += 1
            }
            if count < pageSize { break }
        }

        let unchainedRows = try await database.client.query(
            "SELECT count(*) FROM audit_events WHERE sequence IS NULL", logger: logger)
        var unchained: Int64 = 0
        for try await value in unchainedRows.decode(Int64.self) { unchained = value }
        return ChainVerification(
            checked: checked, lastSequence: expected - 1, lastHash: previousHash, unchained: unchained,
            problem: problem)
    }

    /// What is wrong with event `sequence`'s keying (hashed by the key `keyID`, or plain when nil), if anything.
    func keyProblem(sequence: Int64, keyID: String?, firstKeyed: Int64?) -> String? {
        if let keyID {
            guard chainKeys[keyID] != nil else {
                return chainKeys.isEmpty
                    ? "event \(sequence) is keyed (chain key \(keyID)): verify with that key (--chain-key)"
                    : "event \(sequence) is keyed by chain key \(keyID), which was not given"
            }
            return nil
        }
        if let firstKeyed {
            return "event \(sequence) has a plain SHA-256 hash after keyed event \(firstKeyed): the chain was "
                + "rewritten by someone without the chain key"
        }
        if let keyedFrom, sequence >= keyedFrom {
            return "event \(sequence) has a plain SHA-256 hash but the chain is keyed from sequence \(keyedFrom): "
                + "it was rewritten by someone without the chain key (or keying began later: give --keyed-from "
                + "the sequence the broker logged)"
        }
        return nil
    }

    static func check(
        sequence: Int64, expected: Int64, id: UUID, type: String, prevhash: String, hash: String, event: String,
        previousHash: String, key: AuditChainKey? = nil
    ) -> String? {
        if sequence != expected {
            return "event \(expected) is missing (the next event has sequence \(sequence))"
        }
        if prevhash != previousHash {
            return "prevhash does not match the hash of event \(sequence - 1): an event was removed, reordered or rewritten"
        }
        // A keyed hash is a MAC: compared in constant time.
        if !ConstantTime.equals(Array(AuditChain.hash(prevhash: prevhash, event: event, key: key).utf8), Array(hash.utf8)) {
            return "hash does not match the event's stored bytes: the event was altered"
        }
        guard let parsed = try? JSONValue.parse(Data(event.utf8)), parsed.canonicalString() == event else {
            return "the stored event is not canonical json"
        }
        if parsed["id"]?.stringValue != id.uuidString.lowercased() || parsed["type"]?.stringValue != type {
            return "the event's id or type column disagrees with its stored bytes"
        }
        return nil
    }
}
