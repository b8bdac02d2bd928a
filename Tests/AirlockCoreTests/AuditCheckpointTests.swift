import AirlockCore
import Foundation
import Testing

/// Signed audit checkpoints: what is signed, and that verification refuses anything but two good signatures by
/// trusted keys over exactly the sequence, hash and time carried.
@Suite("Audit checkpoints: signing and verification")
struct AuditCheckpointTests {
    static let keys = try! AuditCheckpointKeys.generate()  // test fixture
    static let otherKeys = try! AuditCheckpointKeys.generate()  // test fixture
    static let hash = String(repeating: "3f", count: 32)
    static let time = Date(timeIntervalSince1970: 1_800_000_000.25)

    static func signed(sequence: Int64 = 42, hash: String = hash, keys: AuditCheckpointKeys = keys) throws -> AuditCheckpoint {
        try AuditCheckpoint.sign(sequence: sequence, hash: hash, time: time, with: keys)
    }

    @Test func aSignedCheckpointVerifiesAgainstItsPublicKeys() throws {
        let checkpoint = try Self.signed()
        try checkpoint.verify(trusting: Self.keys.publicKeys)
        #expect(checkpoint.sequence == 42)
        #expect(checkpoint.hash == Self.hash)
        #expect(checkpoint.time == "2027-01-15T08:00:00.250Z")
        #expect(checkpoint.signatures.map(\.algorithm) == [.ed25519, .mlDSA65])
        #expect(checkpoint.signatures.map(\.keyID) == Self.keys.publicKeys.keys.map(\.keyID))
    }

    @Test func theSignedMessageIsTheDocumentedText() throws {
        let checkpoint = try Self.signed()
        let expected = "airlock-audit-checkpoint/v1\n42\n\(Self.hash)\n2027-01-15T08:00:00.250Z"
        #expect(checkpoint.signedMessage == Array(expected.utf8))
        // Each signature verifies on its own over those bytes, with nothing but the public key.
        for (signature, key) in zip(checkpoint.signatures, Self.keys.publicKeys.keys) {
            #expect(key.isValidSignature(signature.bytes, for: Array(expected.utf8)))
        }
    }

    @Test func keyIDsAreDerivedFromThePublicKeys() throws {
        let keys = Self.keys.publicKeys.keys
        #expect(keys.count == 2)
        let ed = try #require(keys.first { $0.algorithm == .ed25519 })
        let ml = try #require(keys.first { $0.algorithm == .mlDSA65 })
        #expect(ed.bytes.count == 32)
        #expect(ml.bytes.count == 1952)
        #expect(ed.keyID == "ed25519:" + String(Digest.sha256Hex(ed.bytes).prefix(16)))
        #expect(ml.keyID == "mldsa65:" + String(Digest.sha256Hex(ml.bytes).prefix(16)))
        #expect(Self.otherKeys.publicKeys.keys.map(\.keyID) != keys.map(\.keyID))
    }

    @Test func anyClockReadingCanBeSigned() throws {
        // Clock readings with sub-millisecond parts: the time is carried in milliseconds as audit events are, and a
        // floating-point Date read back from those digits may not print them again; the form check must not care.
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<100 {
            let time = Date(timeIntervalSince1970: Double.random(in: 1_700_000_000...1_900_000_000, using: &generator))
            let checkpoint = try AuditCheckpoint.sign(sequence: 1, hash: Self.hash, time: time, with: Self.keys)
            #expect(checkpoint.time == AuditTime.format(time))
            #expect(try AuditCheckpoint(json: checkpoint.json) == checkpoint)
        }
    }

    @Test func theJSONFormRoundTripsAndStillVerifies() throws {
        let checkpoint = try Self.signed()
        let text = checkpoint.json.canonicalString()
        let parsed = try AuditCheckpoint(json: try JSONValue.parse(text))
        #expect(parsed == checkpoint)
        try parsed.verify(trusting: Self.keys.publicKeys)
        #expect(checkpoint.json["signatures"]?[0]?["alg"] == "ed25519")
        #expect(checkpoint.json["signatures"]?[1]?["alg"] == "ml-dsa-65")
    }

    @Test func aReceivedCloudEventOrItsCheckpointObjectAreBothAccepted() throws {
        let checkpoint = try Self.signed()
        let event = checkpoint.event.cloudEvent(id: UUID(), source: "urn:airlock", time: Self.time)
        #expect(event["type"] == "airlock.audit.checkpoint")
        #expect(event["data"]?["severity"] == "info")
        #expect(event["data"]?["channels"] == [])
        #expect(try AuditCheckpoint(received: event) == checkpoint)
        #expect(try AuditCheckpoint(received: checkpoint.json) == checkpoint)

        var other = event.objectValue ?? [:]
        other["type"] = "airlock.access.requested"
        let error = #expect(throws: AuditCheckpointError.self) { try AuditCheckpoint(received: .object(other)) }
        #expect(error?.code == AuditCheckpointError.invalidCheckpointCode)
    }

    /// A way to alter a genuine checkpoint, and the code its verification must fail with.
    enum Forgery: String, CaseIterable, Sendable {
        case laterSequence, earlierSequence, otherHash, otherTime, swappedEd25519Signature, swappedMLDSASignature,
             signedByAnotherKeyPair, anotherKeyClaimingTheTrustedID, algorithmsSwapped, ed25519Missing, mlDSAMissing,
             noSignatures, ed25519Duplicated, truncatedSignature, flippedBit

        var expectedCode: String {
            switch self {
            case .signedByAnotherKeyPair, .algorithmsSwapped: AuditCheckpointError.unknownKeyCode
            case .ed25519Missing, .mlDSAMissing, .noSignatures: AuditCheckpointError.signatureMissingCode
            case .ed25519Duplicated: AuditCheckpointError.invalidCheckpointCode
            default: AuditCheckpointError.signatureInvalidCode
            }
        }
    }

    static func forge(_ forgery: Forgery) throws -> AuditCheckpoint {
        let genuine = try signed()
        let other = try signed(sequence: 43, hash: String(repeating: "a1", count: 32))
        let foreign = try signed(keys: otherKeys)
        var json = genuine.json.objectValue ?? [:]
        var signatures = genuine.signatures
        switch forgery {
        case .laterSequence: json["sequence"] = .int(1_000)
        case .earlierSequence: json["sequence"] = .int(41)
        case .otherHash: json["hash"] = .string(String(repeating: "00", count: 32))
        case .otherTime: json["time"] = "2027-01-15T08:00:00.251Z"
        case .swappedEd25519Signature: signatures[0] = other.signatures[0]
        case .swappedMLDSASignature: signatures[1] = other.signatures[1]
        case .signedByAnotherKeyPair: signatures = foreign.signatures
        case .anotherKeyClaimingTheTrustedID:
            signatures = zip(foreign.signatures, genuine.signatures).map {
                .init(algorithm: $0.algorithm, keyID: $1.keyID, bytes: $0.bytes)
            }
        case .algorithmsSwapped:
            signatures = [
                .init(algorithm: .ed25519, keyID: signatures[1].keyID, bytes: signatures[1].bytes),
                .init(algorithm: .mlDSA65, keyID: signatures[0].keyID, bytes: signatures[0].bytes),
            ]
        case .ed25519Missing: signatures = [signatures[1]]
        case .mlDSAMissing: signatures = [signatures[0]]
        case .noSignatures: signatures = []
        case .ed25519Duplicated: signatures = [signatures[0], signatures[0], signatures[1]]
        case .truncatedSignature:
            signatures[1] = .init(algorithm: .mlDSA65, keyID: signatures[1].keyID, bytes: Array(signatures[1].bytes.dropLast()))
        case .flippedBit:
            var bytes = signatures[0].bytes
            bytes[10] ^= 0x01
            signatures[0] = .init(algorithm: .ed25519, keyID: signatures[0].keyID, bytes: bytes)
        }
        let base = try AuditCheckpoint(json: .object(json))
        return try AuditCheckpoint(sequence: base.sequence, hash: base.hash, time: base.time, signatures: signatures)
    }

    @Test("a forged or altered checkpoint is refused", arguments: Forgery.allCases)
    func forgeryIsRefused(_ forgery: Forgery) throws {
        let forged = try Self.forge(forgery)
        let error = #expect(throws: AuditCheckpointError.self) { try forged.verify(trusting: Self.keys.publicKeys) }
        #expect(error?.code == forgery.expectedCode, "\(error?.message ?? "")")
    }

    @Test func bothKeysMustBeTrusted() throws {
        let checkpoint = try Self.signed()
        for key in Self.keys.publicKeys.keys {
            let partial = AuditCheckpointKeySet(Self.keys.publicKeys.keys.filter { $0 != key })
            let error = #expect(throws: AuditCheckpointError.self) { try checkpoint.verify(trusting: partial) }
            #expect(error?.code == AuditCheckpointError.unknownKeyCode)
        }
        let error = #expect(throws: AuditCheckpointError.self) { try checkpoint.verify(trusting: AuditCheckpointKeySet([])) }
        #expect(error?.code == AuditCheckpointError.unknownKeyCode)
        // Several trusted keys (an old pair and the current one): each checkpoint verifies under its own.
        let both = AuditCheckpointKeySet(Self.otherKeys.publicKeys.keys + Self.keys.publicKeys.keys)
        try checkpoint.verify(trusting: both)
        try Self.signed(keys: Self.otherKeys).verify(trusting: both)
    }

    @Test("a checkpoint of the wrong form is refused before any signature is looked at", arguments: [
        #"{"sequence":0,"hash":"\#(String(repeating: "ab", count: 32))","time":"2027-01-15T08:00:00.000Z","signatures":[]}"#,
        #"{"sequence":1,"hash":"\#(String(repeating: "AB", count: 32))","time":"2027-01-15T08:00:00.000Z","signatures":[]}"#,
        #"{"sequence":1,"hash":"abc","time":"2027-01-15T08:00:00.000Z","signatures":[]}"#,
        #"{"sequence":1,"hash":"\#(String(repeating: "ab", count: 32))","time":"2027-01-15T08:00:00Z","signatures":[]}"#,
        #"{"sequence":1,"hash":"\#(String(repeating: "ab", count: 32))","time":"2027-02-30T08:00:00.000Z","signatures":[]}"#,
        #"{"sequence":"1","hash":"\#(String(repeating: "ab", count: 32))","time":"2027-01-15T08:00:00.000Z","signatures":[]}"#,
        #"{"sequence":1,"hash":"\#(String(repeating: "ab", count: 32))","time":"2027-01-15T08:00:00.000Z"}"#,
        #"{"sequence":1,"hash":"\#(String(repeating: "ab", count: 32))","time":"2027-01-15T08:00:00.000Z","signatures":[{"alg":"rsa","key_id":"x","signature":"AA=="}]}"#,
        #"{"sequence":1,"hash":"\#(String(repeating: "ab", count: 32))","time":"2027-01-15T08:00:00.000Z","signatures":[{"alg":"ed25519","key_id":"x","signature":"not base64!"}]}"#,
        #"[1, 2]"#,
    ])
    func malformed(_ text: String) throws {
        let error = #expect(throws: AuditCheckpointError.self) { try AuditCheckpoint(received: try JSONValue.parse(text)) }
        #expect(error?.code == AuditCheckpointError.invalidCheckpointCode)
    }

    @Test func theKeyFileRoundTripsAndPrintingShowsOnlyKeyIDs() throws {
        let contents = Self.keys.fileContents
        let reloaded = try AuditCheckpointKeys(fileContents: contents)
        #expect(reloaded.publicKeys == Self.keys.publicKeys)
        try Self.signed(keys: reloaded).verify(trusting: Self.keys.publicKeys)

        let file = try JSONValue.parse(contents)
        let secrets = [file["ed25519_private_key"]?.stringValue, file["ml_dsa_65_seed"]?.stringValue].compactMap { $0 }
        #expect(secrets.count == 2)
        var dumped = ""
        dump(Self.keys, to: &dumped)
        for shown in [Self.keys.description, String(reflecting: Self.keys), "\(Self.keys)", dumped] {
            #expect(shown.contains(Self.keys.publicKeys.keys[0].keyID))
            for secret in secrets { #expect(!shown.contains(secret)) }
        }
        // The public key set carries no private bytes either.
        let published = Self.keys.publicKeys.json.canonicalString()
        for secret in secrets { #expect(!published.contains(secret)) }
    }

    @Test("a malformed key file is refused without quoting it", arguments: [
        "", "{}", #"{"format":"airlock-audit-checkpoint-keys/v1"}"#,
        #"{"format":"airlock-audit-checkpoint-keys/v1","ed25519_private_key":"c2VjcmV0LXNlY3JldA==","ml_dsa_65_seed":"c2VjcmV0LXNlY3JldA=="}"#,
        #"{"format":"other","ed25519_private_key":"c2VjcmV0LXNlY3JldA==","ml_dsa_65_seed":"c2VjcmV0LXNlY3JldA=="}"#,
    ])
    func malformedKeyFile(_ text: String) {
        let error = #expect(throws: AuditCheckpointError.self) { try AuditCheckpointKeys(fileContents: text) }
        #expect(error?.code == AuditCheckpointError.invalidKeysCode)
        #expect(error?.message.contains("c2VjcmV0") == false)
    }

    @Test func aKeyFileOthersMayReadIsRefused() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("airlock-ckpt-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("checkpoint.key").path
        try Data(Self.keys.fileContents.utf8).write(to: URL(fileURLWithPath: path))
        chmod(path, 0o600)
        #expect(try AuditCheckpointKeys.load(fromFile: path).publicKeys == Self.keys.publicKeys)
        chmod(path, 0o644)
        let error = #expect(throws: AuditCheckpointError.self) { try AuditCheckpointKeys.load(fromFile: path) }
        #expect(error?.code == SecretFileError.exposedCode)
        #expect(error?.message.contains("chmod 600") == true)
    }

    @Test func thePublishedKeySetRoundTripsAndRefusesAMismatchedID() throws {
        let json = Self.keys.publicKeys.json
        #expect(try AuditCheckpointKeySet(json: try JSONValue.parse(json.canonicalString())) == Self.keys.publicKeys)

        var entry = json["keys"]?[0]?.objectValue ?? [:]
        entry["key_id"] = .string(Self.otherKeys.publicKeys.keys[0].keyID)
        let mismatched = JSONValue.object(["keys": .array([.object(entry)])])
        let error = #expect(throws: AuditCheckpointError.self) { try AuditCheckpointKeySet(json: mismatched) }
        #expect(error?.code == AuditCheckpointError.invalidKeysCode)

        let notAKey = JSONValue.object(["keys": [["alg": "ed25519", "key_id": "ed25519:0", "public_key": "AAAA"]]])
        #expect(throws: AuditCheckpointError.self) { try AuditCheckpointKeySet(json: notAKey) }
    }
}
