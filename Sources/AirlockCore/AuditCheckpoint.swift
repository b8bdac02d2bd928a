import Foundation

/// A signed statement that the audit chain held event `sequence` with hash `hash` at `time`.
///
/// Brokers sign the chain's head periodically and deliver each checkpoint as an `airlock.audit.checkpoint` event to
/// webhooks. A receiver that keeps the latest one can later prove the chain was not cut short: a chain whose head
/// is below `sequence`, or whose event `sequence` has another hash, is not the chain that was signed
/// (`airlock audit verify --checkpoint`).
///
/// The signed message is defined once, by ``signedMessage(sequence:hash:time:)``:
///
/// ```
/// airlock-audit-checkpoint/v1\n<sequence>\n<hash>\n<time>
/// ```
///
/// with the sequence in decimal, the hash as 64 lowercase hex digits and the time exactly as carried (RFC 3339 UTC
/// with milliseconds, e.g. `2027-01-15T08:00:00.000Z`), no trailing newline. Two signatures are made over it,
/// Ed25519 and ML-DSA-65 (empty context); ``verify(trusting:)`` requires both.
public struct AuditCheckpoint: Sendable, Hashable {
    /// The first line of the signed message: names the format and its version.
    public static let messagePrefix = "airlock-audit-checkpoint/v1"
    /// The CloudEvents `type` of the event that carries a checkpoint.
    public static let eventType = "airlock.audit.checkpoint"

    /// One signature of the checkpoint.
    public struct Signature: Sendable, Hashable {
        /// The algorithm.
        public let algorithm: AuditCheckpointAlgorithm
        /// The id of the key that made it (``AuditCheckpointPublicKey/keyID``).
        public let keyID: String
        /// The raw signature.
        public let bytes: [UInt8]

        /// A signature as carried.
        public init(algorithm: AuditCheckpointAlgorithm, keyID: String, bytes: [UInt8]) {
            self.algorithm = algorithm
            self.keyID = keyID
            self.bytes = bytes
        }
    }

    /// The sequence number of the last event attested (1 or more).
    public let sequence: Int64
    /// That event's chain hash, 64 lowercase hex digits.
    public let hash: String
    /// When the checkpoint was signed, as signed: ``AuditTime`` form, RFC 3339 UTC with milliseconds.
    public let time: String
    /// The signatures, as carried (normally one Ed25519, then one ML-DSA-65).
    public let signatures: [Signature]

    /// A checkpoint as received. Nothing is checked but the form of the fields; see ``verify(trusting:)``.
    /// - Throws: `invalid_checkpoint` when the sequence is below 1, the hash is not 64 lowercase hex digits or the
    ///   time is not in ``AuditTime`` form.
    public init(sequence: Int64, hash: String, time: String, signatures: [Signature]) throws(AuditCheckpointError) {
        guard sequence >= 1 else { throw .invalid("`sequence` must be an integer of 1 or more") }
        guard Self.isChainHash(hash) else { throw .invalid("`hash` must be 64 lowercase hex digits") }
        guard Self.isAuditTime(time) else {
            throw .invalid("`time` must be an RFC 3339 UTC time with milliseconds, e.g. 2027-01-15T08:00:00.000Z")
        }
        self.sequence = sequence
        self.hash = hash
        self.time = time
        self.signatures = signatures
    }

    /// Signs the chain head `sequence`/`hash` at `time` with both of `keys`.
    /// - Throws: `invalid_checkpoint` for a malformed sequence or hash; `checkpoint_signing_failed` if a signer
    ///   refuses (it should not).
    public static func sign(
        sequence: Int64, hash: String, time: Date, with keys: AuditCheckpointKeys
    ) throws(AuditCheckpointError) -> AuditCheckpoint {
        let text = AuditTime.format(time)
        _ = try AuditCheckpoint(sequence: sequence, hash: hash, time: text, signatures: [])  // the form, before signing
        let signatures = try keys.sign(signedMessage(sequence: sequence, hash: hash, time: text))
        return try AuditCheckpoint(sequence: sequence, hash: hash, time: text, signatures: signatures)
    }

    /// The exact bytes both signatures cover. Defined here and nowhere else.
    public static func signedMessage(sequence: Int64, hash: String, time: String) -> [UInt8] {
        Array("\(messagePrefix)\n\(sequence)\n\(hash)\n\(time)".utf8)
    }

    /// The first signature of `algorithm` it carries, if any.
    public func signature(_ algorithm: AuditCheckpointAlgorithm) -> Signature? {
        signatures.first { $0.algorithm == algorithm }
    }

    /// The bytes this checkpoint's signatures must cover.
    public var signedMessage: [UInt8] {
        Self.signedMessage(sequence: sequence, hash: hash, time: time)
    }

    /// Checks that the checkpoint carries exactly one Ed25519 and exactly one ML-DSA-65 signature (parsing refuses
    /// any other algorithm), that each names a key in `keys`, and that each verifies over ``signedMessage``. Both must: a
    /// checkpoint with one good signature and one missing or bad is refused.
    /// - Throws: `checkpoint_signature_missing`, `checkpoint_unknown_key`, `checkpoint_signature_invalid` or
    ///   `invalid_checkpoint` (an algorithm signed twice).
    public func verify(trusting keys: AuditCheckpointKeySet) throws(AuditCheckpointError) {
        let message = signedMessage
        for algorithm in AuditCheckpointAlgorithm.allCases {
            let matching = signatures.filter { $0.algorithm == algorithm }
            guard let signature = matching.first else {
                throw AuditCheckpointError(
                    code: AuditCheckpointError.signatureMissingCode,
                    message: "the checkpoint has no \(algorithm.rawValue) signature: both ed25519 and ml-dsa-65 are required")
            }
            guard matching.count == 1 else {
                throw .invalid("the checkpoint has more than one \(algorithm.rawValue) signature")
            }
            guard let key = keys.key(algorithm, id: signature.keyID) else {
                throw AuditCheckpointError(
                    code: AuditCheckpointError.unknownKeyCode,
                    message: "the \(algorithm.rawValue) signature names key `\(signature.keyID)`, which is not trusted")
            }
            guard key.isValidSignature(signature.bytes, for: message) else {
                throw AuditCheckpointError(
                    code: AuditCheckpointError.signatureInvalidCode,
                    message: "the \(algorithm.rawValue) signature by `\(signature.keyID)` does not verify: "
                        + "the checkpoint was altered or forged")
            }
        }
    }

    static func isChainHash(_ text: String) -> Bool {
        text.utf8.count == 64 && text.utf8.allSatisfy { (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }
    }

    /// Whether `text` is a time as ``AuditTime/format(_:)`` writes it: `YYYY-MM-DDTHH:MM:SS.mmmZ` of a real instant.
    static func isAuditTime(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        guard bytes.count == 24 else { return false }
        let shape = Array("dddd-dd-ddTdd:dd:dd.dddZ".utf8)
        for (byte, expected) in zip(bytes, shape) {
            if expected == UInt8(ascii: "d") {
                guard (0x30...0x39).contains(byte) else { return false }
            } else if byte != expected {
                return false
            }
        }
        // A real calendar instant: the whole seconds survive a round trip (the milliseconds, already checked as
        // digits, are left out: parsing them into a floating-point Date may not give the same digits back).
        let seconds = String(text.prefix(19)) + ".000Z"
        guard let date = try? Date.ISO8601FormatStyle(includingFractionalSeconds: true, timeZone: .gmt).parse(seconds)
        else { return false }
        return AuditTime.format(date) == seconds
    }
}

// MARK: - JSON

extension AuditCheckpoint {
    /// `{"sequence", "hash", "time", "signatures": [{"alg", "key_id", "signature"}, …]}`, signatures in standard
    /// base64: the `data.checkpoint` of an `airlock.audit.checkpoint` event.
    public var json: JSONValue {
        .object([
            "sequence": .int(sequence),
            "hash": .string(hash),
            "time": .string(time),
            "signatures": .array(signatures.map { signature in
                .object([
                    "alg": .string(signature.algorithm.rawValue),
                    "key_id": .string(signature.keyID),
                    "signature": .string(Base64Strict.encode(signature.bytes)),
                ])
            }),
        ])
    }

    /// Parses the ``json`` form.
    /// - Throws: `invalid_checkpoint` naming the member that is missing or malformed.
    public init(json: JSONValue) throws(AuditCheckpointError) {
        guard json.objectValue != nil else { throw .invalid("a checkpoint must be a JSON object") }
        guard let sequence = json["sequence"]?.intValue else { throw .invalid("`sequence` must be an integer") }
        guard let hash = json["hash"]?.stringValue else { throw .invalid("`hash` must be a string") }
        guard let time = json["time"]?.stringValue else { throw .invalid("`time` must be a string") }
        guard let entries = json["signatures"]?.arrayValue else { throw .invalid("`signatures` must be an array") }
        var signatures: [Signature] = []
        for (index, entry) in entries.enumerated() {
            guard let name = entry["alg"]?.stringValue else {
                throw .invalid("signature \(index + 1): `alg` must be a string")
            }
            guard let algorithm = AuditCheckpointAlgorithm(rawValue: name) else {
                throw .invalid("signature \(index + 1): unknown algorithm `\(name)`")
            }
            guard let keyID = entry["key_id"]?.stringValue else {
                throw .invalid("signature \(index + 1): `key_id` must be a string")
            }
            guard let text = entry["signature"]?.stringValue, let bytes = Base64Strict.decode(text) else {
                throw .invalid("signature \(index + 1): `signature` must be standard base64")
            }
            signatures.append(Signature(algorithm: algorithm, keyID: keyID, bytes: bytes))
        }
        try self.init(sequence: sequence, hash: hash, time: time, signatures: signatures)
    }

    /// Parses a checkpoint as a receiver got it: the whole `airlock.audit.checkpoint` CloudEvent as a webhook
    /// delivered it (its `data.checkpoint` is taken), or the checkpoint object alone.
    /// - Throws: `invalid_checkpoint` when it is neither, or when a CloudEvent of another type is given.
    public init(received json: JSONValue) throws(AuditCheckpointError) {
        if json["specversion"] != nil || json["data"] != nil {
            guard json["type"]?.stringValue == Self.eventType else {
                throw .invalid("the event is not an `\(Self.eventType)` event")
            }
            guard let checkpoint = json["data"]?["checkpoint"] else {
                throw .invalid("the event has no `data.checkpoint`")
            }
            try self.init(json: checkpoint)
        } else {
            try self.init(json: json)
        }
    }

    /// The `airlock.audit.checkpoint` event that carries this checkpoint: subject the sequence, severity info, no
    /// channels, `data.checkpoint` the ``json`` form.
    public var event: NewAuditEvent {
        NewAuditEvent(
            type: Self.eventType, subject: String(sequence), severity: .info, channels: [],
            data: ["checkpoint": json])
    }
}
