import Foundation
import Testing

@testable import AirlockCore

@Suite("Envelope encryption")
struct EnvelopeEncryptionTests {
    let context = EncryptionContext(table: "resources", row: "3f2a9c1e-0000-4000-8000-000000000001", column: "admin_password")
    let plaintext = Array("correct horse battery staple".utf8)

    // MARK: Sealed secrets

    @Test("seal then open returns the plaintext")
    func roundTrip() throws {
        let key = DataKey.generate()
        let sealed = try SealedSecret.seal(plaintext, with: key, context: context)
        #expect(sealed.bytes.count == SealedSecret.minimumLength + plaintext.count)
        #expect(sealed.bytes[0] == 0x01)
        #expect(sealed.dataKeyID == key.id)
        #expect(try sealed.open(with: key, context: context) == plaintext)

        let reloaded = try SealedSecret(bytes: sealed.bytes)
        #expect(try reloaded.open(with: key, context: context) == plaintext)
        let fromData = try SealedSecret(data: sealed.data)
        #expect(fromData == sealed)
    }

    @Test("empty plaintext round trips")
    func emptyPlaintext() throws {
        let key = DataKey.generate()
        let sealed = try SealedSecret.seal([], with: key, context: context)
        #expect(sealed.bytes.count == SealedSecret.minimumLength)
        #expect(try sealed.open(with: key, context: context) == [])
    }

    @Test("sealing twice gives different ciphertexts (fresh nonce)")
    func freshNonce() throws {
        let key = DataKey.generate()
        let first = try SealedSecret.seal(plaintext, with: key, context: context)
        let second = try SealedSecret.seal(plaintext, with: key, context: context)
        #expect(first.bytes != second.bytes)
    }

    @Test("the plaintext does not appear in the ciphertext or its description")
    func noPlaintextLeak() throws {
        let key = DataKey.generate()
        let sealed = try SealedSecret.seal(plaintext, with: key, context: context)
        #expect(!sealed.bytes.indices.contains { index in
            sealed.bytes[index...].starts(with: plaintext)
        })
        #expect(!"\(sealed)".contains("horse"))
    }

    /// Regions of the format: version, data key id, nonce, ciphertext, tag.
    static let regions: [(name: String, offset: Int)] = [
        ("version", 0), ("data key id", 1), ("data key id end", 16), ("nonce", 17), ("nonce end", 28),
        ("ciphertext", 29), ("ciphertext end", 29 + 27), ("tag", 29 + 28), ("tag end", 29 + 28 + 15),
    ]

    @Test("tampering with any region fails cleanly", arguments: regions)
    func tamper(region: String, offset: Int) throws {
        let key = DataKey.generate()
        let sealed = try SealedSecret.seal(plaintext, with: key, context: context)
        var bytes = sealed.bytes
        bytes[offset] ^= 0x01
        do {
            let tampered = try SealedSecret(bytes: bytes)
            let error = #expect(throws: CryptoError.self) {
                try tampered.open(with: key, context: context)
            }
            let expected = offset >= 1 && offset <= 16 ? "wrong_data_key" : "decryption_failed"
            #expect(error?.code == expected, "region \(region)")
        } catch {
            // Only the version byte is checked by the format check.
            #expect(offset == 0)
            #expect(error.code == "invalid_ciphertext")
        }
    }

    @Test("every single-bit flip fails")
    func everyBitFlip() throws {
        let key = DataKey.generate()
        let sealed = try SealedSecret.seal(Array("pw".utf8), with: key, context: context)
        for index in sealed.bytes.indices {
            for bit in 0..<8 {
                var bytes = sealed.bytes
                bytes[index] ^= UInt8(1) << UInt8(bit)
                let opened = try? SealedSecret(bytes: bytes).open(with: key, context: context)
                #expect(opened == nil, "flip of bit \(bit) in byte \(index) went unnoticed")
            }
        }
    }

    @Test("truncated or extended ciphertexts fail")
    func truncation() throws {
        let key = DataKey.generate()
        let sealed = try SealedSecret.seal(plaintext, with: key, context: context)
        for length in [0, 1, 17, 29, SealedSecret.minimumLength - 1] {
            let error = #expect(throws: CryptoError.self) {
                try SealedSecret(bytes: Array(sealed.bytes.prefix(length)))
            }
            #expect(error?.code == "invalid_ciphertext")
        }
        let shortened = try SealedSecret(bytes: Array(sealed.bytes.dropLast()))
        #expect((try? shortened.open(with: key, context: context)) == nil)
        let extended = try SealedSecret(bytes: sealed.bytes + [0])
        #expect((try? extended.open(with: key, context: context)) == nil)
    }

    @Test("a ciphertext copied to another row, column or table fails")
    func wrongContext() throws {
        let key = DataKey.generate()
        let sealed = try SealedSecret.seal(plaintext, with: key, context: context)
        let others = [
            EncryptionContext(table: context.table, row: "3f2a9c1e-0000-4000-8000-000000000002", column: context.column),
            EncryptionContext(table: context.table, row: context.row, column: "signing_secret"),
            EncryptionContext(table: "webhooks", row: context.row, column: context.column),
        ]
        for other in others {
            let error = #expect(throws: CryptoError.self) { try sealed.open(with: key, context: other) }
            #expect(error?.code == "decryption_failed")
        }
    }

    @Test("context encoding is unambiguous")
    func contextEncoding() {
        let a = EncryptionContext(table: "ab", row: "c", column: "d")
        let b = EncryptionContext(table: "a", row: "bc", column: "d")
        let c = EncryptionContext(table: "a", row: "b", column: "cd")
        #expect(a.associatedData != b.associatedData)
        #expect(b.associatedData != c.associatedData)
        #expect(a.associatedData != c.associatedData)
        let expected: [UInt8] = Array("airlock secret context v1".utf8) + [0]
            + [0, 0, 0, 2] + Array("ab".utf8) + [0, 0, 0, 1] + Array("c".utf8) + [0, 0, 0, 1] + Array("d".utf8)
        #expect(a.associatedData == expected)
    }

    @Test("opening with another data key fails")
    func wrongDataKey() throws {
        let key = DataKey.generate()
        let other = DataKey.generate()
        let sealed = try SealedSecret.seal(plaintext, with: key, context: context)
        let error = #expect(throws: CryptoError.self) { try sealed.open(with: other, context: context) }
        #expect(error?.code == "wrong_data_key")

        // A different key that claims the right id (for example a corrupted unwrap) still fails.
        let impostor = try #require(DataKey(id: key.id, keyBytes: SecureRandom.bytes(32)))
        let impostorError = #expect(throws: CryptoError.self) { try sealed.open(with: impostor, context: context) }
        #expect(impostorError?.code == "decryption_failed")
    }

    @Test("an unsupported version is rejected")
    func version() throws {
        let key = DataKey.generate()
        var bytes = try SealedSecret.seal(plaintext, with: key, context: context).bytes
        bytes[0] = 0x02
        let error = #expect(throws: CryptoError.self) { try SealedSecret(bytes: bytes) }
        #expect(error?.code == "invalid_ciphertext")
    }

    // MARK: Wrapping data keys

    @Test("wrap then unwrap returns the same data key")
    func wrapUnwrap() throws {
        let kek = KeyEncryptionKey.generate()
        let key = DataKey.generate()
        let wrapped = try key.wrap(with: kek)
        #expect(wrapped.dataKeyID == key.id)
        #expect(wrapped.kekID == kek.id)
        #expect(wrapped.wrapped.count == 12 + 32 + 16)
        let unwrapped = try wrapped.unwrap(using: KeyRing(current: kek))
        #expect(unwrapped == key)

        let sealed = try SealedSecret.seal(plaintext, with: key, context: context)
        #expect(try sealed.open(with: unwrapped, context: context) == plaintext)
    }

    @Test("unwrap with a ring lacking the KEK fails with unknown_key_encryption_key")
    func unknownKEK() throws {
        let kek = KeyEncryptionKey.generate()
        let wrapped = try DataKey.generate().wrap(with: kek)
        let ring = KeyRing(current: .generate(), previous: [.generate()])
        let error = #expect(throws: CryptoError.self) { try wrapped.unwrap(using: ring) }
        #expect(error?.code == "unknown_key_encryption_key")
        #expect(error?.message.contains(kek.id) == true)
    }

    @Test("a KEK id relabelled onto another key fails")
    func relabelledKEK() throws {
        let kek = KeyEncryptionKey.generate()
        let other = KeyEncryptionKey.generate()
        let wrapped = try DataKey.generate().wrap(with: kek)
        let relabelled = WrappedDataKey(dataKeyID: wrapped.dataKeyID, kekID: other.id, wrapped: wrapped.wrapped)
        let error = #expect(throws: CryptoError.self) { try relabelled.unwrap(using: KeyRing(current: other)) }
        #expect(error?.code == "decryption_failed")
    }

    @Test("a wrapped key is bound to its data key id")
    func wrappedBoundToID() throws {
        let kek = KeyEncryptionKey.generate()
        let wrapped = try DataKey.generate().wrap(with: kek)
        let moved = WrappedDataKey(dataKeyID: UUID(), kekID: wrapped.kekID, wrapped: wrapped.wrapped)
        let error = #expect(throws: CryptoError.self) { try moved.unwrap(using: KeyRing(current: kek)) }
        #expect(error?.code == "decryption_failed")
    }

    @Test("a tampered wrapped key fails")
    func tamperedWrap() throws {
        let kek = KeyEncryptionKey.generate()
        let wrapped = try DataKey.generate().wrap(with: kek)
        let ring = KeyRing(current: kek)
        for index in wrapped.wrapped.indices {
            var bytes = wrapped.wrapped
            bytes[index] ^= 0x40
            let tampered = WrappedDataKey(dataKeyID: wrapped.dataKeyID, kekID: wrapped.kekID, wrapped: bytes)
            let error = #expect(throws: CryptoError.self) { try tampered.unwrap(using: ring) }
            #expect(error?.code == "decryption_failed")
        }
        for length in [0, 12, 28, 59] {
            let short = WrappedDataKey(
                dataKeyID: wrapped.dataKeyID, kekID: wrapped.kekID, wrapped: Array(wrapped.wrapped.prefix(length))
            )
            let error = #expect(throws: CryptoError.self) { try short.unwrap(using: ring) }
            #expect(error?.code == "decryption_failed")
        }
    }

    @Test("rotation: unwrap with the old KEK as previous, rewrap with the new current")
    func rotation() throws {
        let old = KeyEncryptionKey.generate()
        let new = KeyEncryptionKey.generate()
        let key = DataKey.generate()
        let sealed = try SealedSecret.seal(plaintext, with: key, context: context)
        let wrappedOld = try key.wrap(with: old)

        let rotating = KeyRing(current: new, previous: [old])
        #expect(try wrappedOld.unwrap(using: rotating) == key)
        let rewrapped = try wrappedOld.rewrap(using: rotating)
        #expect(rewrapped.kekID == new.id)
        #expect(rewrapped.dataKeyID == key.id)

        // After rotation the old KEK can be dropped; secrets still open.
        let rotated = KeyRing(current: new)
        let unwrapped = try rewrapped.unwrap(using: rotated)
        #expect(try sealed.open(with: unwrapped, context: context) == plaintext)

        // A ring with only the old KEK cannot unwrap the rewrapped key.
        let oldOnly = KeyRing(current: old)
        let error = #expect(throws: CryptoError.self) { try rewrapped.unwrap(using: oldOnly) }
        #expect(error?.code == "unknown_key_encryption_key")
    }

    @Test("key ring lookup")
    func keyRing() {
        let current = KeyEncryptionKey.generate()
        let previous = KeyEncryptionKey.generate()
        let ring = KeyRing(current: current, previous: [previous])
        #expect(ring.key(id: current.id) == current)
        #expect(ring.key(id: previous.id) == previous)
        #expect(ring.key(id: "kek_0000000000000000") == nil)
        #expect(ring.keys == [current, previous])
        #expect("\(ring)".contains(current.id))
        #expect(!"\(ring)".contains(String(current.text.dropFirst(6))))
    }

    // MARK: Key encryption keys

    @Test("KEK text round trip")
    func kekText() throws {
        let kek = KeyEncryptionKey.generate()
        let text = kek.text
        #expect(text.hasPrefix("akek1_"))
        #expect(text.count == 6 + 43)
        #expect(text.dropFirst(6).allSatisfy { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" })
        let parsed = try KeyEncryptionKey(text: text)
        #expect(parsed == kek)
        #expect(parsed.id == kek.id)
        #expect(parsed.text == text)
        #expect(KeyEncryptionKey.generate() != kek)
    }

    @Test("KEK text matches Foundation's base64url and the documented id derivation")
    func kekKnownAnswer() throws {
        let keyBytes: [UInt8] = Array(0..<32)
        let base64 = Data(keyBytes).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
        let kek = try KeyEncryptionKey(text: "akek1_" + base64)
        #expect(kek.text == "akek1_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8")
        #expect(kek == (try KeyEncryptionKey(keyBytes: keyBytes)))
        #expect(kek.id.hasPrefix("kek_"))
        #expect(kek.id.count == 4 + 16)
        #expect(kek.id.dropFirst(4).allSatisfy { $0.isHexDigit && !$0.isUppercase })
    }

    @Test("KEK ids differ between keys and are stable for one key")
    func kekIDs() throws {
        let a = KeyEncryptionKey.generate()
        let b = KeyEncryptionKey.generate()
        #expect(a.id != b.id)
        #expect(try KeyEncryptionKey(text: a.text).id == a.id)
    }

    static let badTexts: [String] = [
        "",
        "akek1_",
        "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8",
        "akek2_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8",
        "AKEK1_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8",
        "akek1_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh",
        "akek1_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8A",
        "akek1_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
        "akek1_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh+",
        "akek1_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh/",
        "akek1_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh9",  // non-zero unused bits
        " akek1_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8",
        "akek1_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8 ",
        "akek1_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwd\nh8",
        "akek1_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHé",
    ]

    @Test("bad KEK text is rejected without echoing it", arguments: badTexts)
    func kekBadText(text: String) {
        let error = #expect(throws: CryptoError.self) { try KeyEncryptionKey(text: text) }
        #expect(error?.code == "invalid_key_encryption_key")
        let body = String(text.dropFirst(6))
        if body.count > 4, let error {
            #expect(!error.message.contains(body))
            #expect(!error.description.contains(body))
        }
    }

    @Test("description, debugDescription and dump show only the id")
    func kekDescriptionHidesKey() throws {
        let kek = KeyEncryptionKey.generate()
        let secret = String(kek.text.dropFirst(6))
        var dumped = ""
        dump(kek, to: &dumped)
        let renderings = [
            kek.description, kek.debugDescription, "\(kek)", String(describing: kek), String(reflecting: kek),
            "\([kek])", dumped, "\(KeyRing(current: kek))",
        ]
        for rendering in renderings {
            #expect(rendering.contains(kek.id))
            #expect(!rendering.contains(secret))
            #expect(!rendering.contains("akek1_"))
        }
        let bytes = kek.key.withUnsafeBytes { Array($0) }
        let hex = bytes.map { String(format: "%02x", $0) }.joined()
        #expect(!dumped.contains(hex))
        #expect(!dumped.contains(bytes.map(String.init).joined(separator: ", ")))
    }

    @Test("data key description shows only the id")
    func dataKeyDescription() {
        let key = DataKey.generate()
        var dumped = ""
        dump(key, to: &dumped)
        for rendering in [key.description, String(reflecting: key), dumped] {
            #expect(rendering.lowercased().contains(key.id.uuidString.lowercased()))
        }
        let bytes = key.key.withUnsafeBytes { Array($0) }
        #expect(!dumped.contains(bytes.map(String.init).joined(separator: ", ")))
        #expect(!dumped.contains("SecureBytes"))
    }

    @Test("load a KEK from a file, trimming whitespace")
    func loadFromFile() throws {
        let kek = KeyEncryptionKey.generate()
        let path = FileManager.default.temporaryDirectory
            .appendingPathComponent("airlock-kek-\(UUID().uuidString).txt").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try Data(("  \n" + kek.text + "\n\n").utf8).write(to: URL(fileURLWithPath: path))
        #expect(chmod(path, 0o600) == 0)
        let loaded = try KeyEncryptionKey.load(fromFile: path)
        #expect(loaded == kek)
        #expect(loaded.id == kek.id)
    }

    @Test("loading a missing file names the path")
    func loadMissingFile() {
        let path = "/nonexistent/airlock/kek-\(UUID().uuidString)"
        let error = #expect(throws: CryptoError.self) { try KeyEncryptionKey.load(fromFile: path) }
        #expect(error?.code == "key_file_unreadable")
        #expect(error?.message.contains(path) == true)
    }

    @Test("loading a file with bad content names the path, not the content")
    func loadBadFile() throws {
        let path = FileManager.default.temporaryDirectory
            .appendingPathComponent("airlock-kek-\(UUID().uuidString).txt").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let content = "akek1_not-a-valid-key-but-maybe-a-secret-anyway"
        try Data(content.utf8).write(to: URL(fileURLWithPath: path))
        #expect(chmod(path, 0o600) == 0)
        let error = #expect(throws: CryptoError.self) { try KeyEncryptionKey.load(fromFile: path) }
        #expect(error?.code == "invalid_key_encryption_key")
        #expect(error?.message.contains(path) == true)
        #expect(error?.message.contains("not-a-valid") == false)
    }

    @Test("error descriptions carry code and message")
    func errorDescription() {
        let error = CryptoError.decryptionFailed
        #expect(error.description.hasPrefix("decryption_failed: "))
        #expect(CryptoError.unknownKeyEncryptionKey(id: "kek_1").code == "unknown_key_encryption_key")
    }
}
