import Foundation
import Testing

@testable import AirlockCore

@Suite("WebhookSignature")
struct WebhookSignatureTests {
    // The published test vector of Standard Webhooks: the reference libraries' sign tests
    // (standard-webhooks/standard-webhooks, e.g. libraries/go/webhook_test.go `TestWebhookSign`).
    static let vectorSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    static let vectorID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
    static let vectorTimestamp: Int64 = 1_614_265_330
    static let vectorBody = Array(#"{"test": 2432232314}"#.utf8)
    static let vectorSignature = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="

    static let id = "0190b7a0-5c4e-7d1a-9b3f-2f6e8c1d4a57"
    static let timestamp: Int64 = 1_750_000_000
    static let body = Array(#"{"specversion":"1.0","type":"airlock.lease.expired"}"#.utf8)
    static let now = Date(timeIntervalSince1970: TimeInterval(timestamp))

    // MARK: Signing

    @Test("the Standard Webhooks test vector signs and verifies")
    func specificationVector() throws {
        let secret = try WebhookSecret(parsing: Self.vectorSecret)
        #expect(secret.bytes.count == 24)
        #expect(
            WebhookSignature.signedContent(id: Self.vectorID, timestamp: Self.vectorTimestamp, body: Self.vectorBody)
                == Array(#"msg_p5jXN8AQM9LWM0D4loKWxJek.1614265330.{"test": 2432232314}"#.utf8))
        let signature = WebhookSignature.sign(
            id: Self.vectorID, timestamp: Self.vectorTimestamp, body: Self.vectorBody, with: .hmac(secret))
        #expect(signature == Self.vectorSignature)
        let header = WebhookSignature.header(
            id: Self.vectorID, timestamp: Self.vectorTimestamp, body: Self.vectorBody, keys: [.hmac(secret)])
        #expect(header == Self.vectorSignature)
        #expect(
            WebhookSignature.verify(
                header: Self.vectorSignature, id: Self.vectorID, timestamp: Self.vectorTimestamp,
                body: Self.vectorBody, secret: secret,
                now: Date(timeIntervalSince1970: TimeInterval(Self.vectorTimestamp))))
        #expect(
            WebhookSignature.verify(
                header: Self.vectorSignature, id: Self.vectorID, timestamp: Self.vectorTimestamp,
                body: Self.vectorBody, secret: secret, tolerance: nil))
    }

    @Test("two keys give two space-separated signatures and either secret verifies")
    func rotationWindow() throws {
        let old = WebhookSecret.generate()
        let new = WebhookSecret.generate()
        let header = WebhookSignature.header(
            id: Self.id, timestamp: Self.timestamp, body: Self.body, keys: [.hmac(new), .hmac(old)])
        let parts = header.split(separator: " ", omittingEmptySubsequences: false).map(String.init)
        #expect(parts.count == 2)
        for (part, secret) in zip(parts, [new, old]) {
            let expected = WebhookSignature.sign(
                id: Self.id, timestamp: Self.timestamp, body: Self.body, with: .hmac(secret))
            #expect(part == expected)
        }
        for secret in [old, new] {
            #expect(verify(header, secret: secret))
        }
        #expect(!verify(header, secret: WebhookSecret.generate()))
    }

    @Test("a tampered body, id or timestamp fails")
    func tampering() {
        let secret = WebhookSecret.generate()
        let header = WebhookSignature.header(
            id: Self.id, timestamp: Self.timestamp, body: Self.body, keys: [.hmac(secret)])
        #expect(verify(header, secret: secret))
        #expect(!verify(header, body: Self.body + [0x20], secret: secret))
        #expect(!verify(header, body: Array(Self.body.dropLast()), secret: secret))
        #expect(!verify(header, id: Self.id + "x", secret: secret))
        #expect(!verify(header, timestamp: Self.timestamp + 1, secret: secret))
        // Moving the delimiter between id and timestamp changes the content.
        #expect(!verify(header, id: Self.id + ".1", timestamp: 750_000_000, secret: secret))
    }

    @Test("a timestamp outside the tolerance fails unless the time check is skipped")
    func tolerance() {
        let secret = WebhookSecret.generate()
        let header = WebhookSignature.header(
            id: Self.id, timestamp: Self.timestamp, body: Self.body, keys: [.hmac(secret)])
        func verify(at offset: TimeInterval, tolerance: Int64? = 300) -> Bool {
            WebhookSignature.verify(
                header: header, id: Self.id, timestamp: Self.timestamp, body: Self.body, secret: secret,
                now: Self.now.addingTimeInterval(offset), tolerance: tolerance)
        }
        #expect(verify(at: 300))
        #expect(verify(at: -300))
        #expect(!verify(at: 301))
        #expect(!verify(at: -301))
        #expect(!verify(at: 3600))
        #expect(verify(at: 3600, tolerance: nil))
        #expect(verify(at: 3600, tolerance: 3600))
        #expect(!verify(at: 0, tolerance: -1))
        #expect(!verify(at: .infinity))
        #expect(
            !WebhookSignature.verify(
                header: header, id: Self.id, timestamp: .min, body: Self.body, secret: secret, now: Self.now))
    }

    @Test("verify reads only `v1,` entries and skips malformed ones")
    func headerParsing() {
        let secret = WebhookSecret.generate()
        let valid = WebhookSignature.sign(id: Self.id, timestamp: Self.timestamp, body: Self.body, with: .hmac(secret))
        let mac = String(valid.dropFirst(3))
        let noise = "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc="
        #expect(verify("\(noise) v2,\(mac)  \(valid) \(noise)", secret: secret))
        #expect(verify("garbage v1,!!! v1a,\(mac) \(valid)", secret: secret))
        #expect(!verify("v2,\(mac)", secret: secret))
        #expect(!verify("v1a,\(mac)", secret: secret))
        #expect(!verify(mac, secret: secret))
        #expect(!verify("", secret: secret))
        #expect(!verify("v1,", secret: secret))
    }

    // MARK: Ed25519

    @Test("the reference libraries' Ed25519 vector verifies with the key derived from its `whsk_` seed")
    func ed25519Vector() throws {
        // libraries/go/webhook_asymmetric_test.go `TestAsymmetricWebhookSign`, same message as the HMAC vector.
        let pair = try WebhookSigningKeyPair(parsing: "whsk_VEVTVFNJR05JTkdLRVlET05PVFVTRVRISVNGT1JBTlk=")
        let expected = "v1a,tQ9V2XOqn7jL/DQenEFpqIugdBVtiMmER5mhSkXBNwM0mkATuDe6KYYUuxqtaiHeYGb7KaaBRdM5WqyeFiL8Ag=="
        let publicKey = try WebhookPublicKey(parsing: pair.publicKeyText)
        let vectorNow = Date(timeIntervalSince1970: TimeInterval(Self.vectorTimestamp))
        #expect(
            WebhookSignature.verify(
                header: expected, id: Self.vectorID, timestamp: Self.vectorTimestamp, body: Self.vectorBody,
                publicKey: publicKey, now: vectorNow))
        let signature = WebhookSignature.sign(
            id: Self.vectorID, timestamp: Self.vectorTimestamp, body: Self.vectorBody, with: .ed25519(pair))
        #expect(
            WebhookSignature.verify(
                header: signature, id: Self.vectorID, timestamp: Self.vectorTimestamp, body: Self.vectorBody,
                publicKey: publicKey, now: vectorNow))
        #if os(Linux)
        // BoringSSL signs deterministically (RFC 8032), as Go does; Apple's CryptoKit randomises its signatures.
        #expect(signature == expected)
        #endif
    }

    @Test("an Ed25519 signature verifies with its public key and fails with another")
    func ed25519RoundTrip() throws {
        let pair = WebhookSigningKeyPair.generate()
        let signature = WebhookSignature.sign(
            id: Self.id, timestamp: Self.timestamp, body: Self.body, with: .ed25519(pair))
        #expect(signature.hasPrefix("v1a,"))
        #expect(try #require(Data(base64Encoded: String(signature.dropFirst(4)))).count == 64)

        let parsed = try WebhookPublicKey(parsing: pair.publicKeyText)
        #expect(parsed == pair.publicKey)
        #expect(parsed.bytes == pair.publicKeyBytes)
        #expect(parsed.text == pair.publicKeyText)
        #expect(verify(signature, publicKey: parsed))
        #expect(!verify(signature, body: Self.body + [0x20], publicKey: parsed))
        #expect(!verify(signature, id: Self.id + "x", publicKey: parsed))
        #expect(!verify(signature, timestamp: Self.timestamp + 1, publicKey: parsed))
        #expect(!verify(signature, publicKey: WebhookSigningKeyPair.generate().publicKey))
        #expect(
            !WebhookSignature.verify(
                header: signature, id: Self.id, timestamp: Self.timestamp, body: Self.body, publicKey: parsed,
                now: Self.now.addingTimeInterval(301)))
        // A `v1a` signature under a `v1` label is not accepted.
        #expect(!verify("v1," + signature.dropFirst(4), publicKey: parsed))
    }

    @Test("a header mixing an HMAC and an Ed25519 key satisfies both verifiers")
    func mixedHeader() {
        let secret = WebhookSecret.generate()
        let pair = WebhookSigningKeyPair.generate()
        let header = WebhookSignature.header(
            id: Self.id, timestamp: Self.timestamp, body: Self.body, keys: [.hmac(secret), .ed25519(pair)])
        let parts = header.split(separator: " ")
        #expect(parts.count == 2)
        #expect(parts[0].hasPrefix("v1,") && parts[1].hasPrefix("v1a,"))
        #expect(verify(header, secret: secret))
        #expect(verify(header, publicKey: pair.publicKey))
    }

    @Test("a key pair rebuilt from its private bytes or text signs for the same public key")
    func keyPairRestored() throws {
        let pair = WebhookSigningKeyPair.generate()
        #expect(pair.privateKeyBytes.count == 32)
        #expect(pair.publicKeyBytes.count == 32)
        #expect(pair.publicKeyText.hasPrefix("whpk_"))
        #expect(pair.privateKeyText.hasPrefix("whsk_"))
        let restored = try WebhookSigningKeyPair(privateKeyBytes: pair.privateKeyBytes)
        let reparsed = try WebhookSigningKeyPair(parsing: pair.privateKeyText)
        for copy in [restored, reparsed] {
            #expect(copy.publicKey == pair.publicKey)
            let signature = WebhookSignature.sign(
                id: Self.id, timestamp: Self.timestamp, body: Self.body, with: .ed25519(copy))
            #expect(verify(signature, publicKey: pair.publicKey))
        }
        #expect(WebhookSigningKeyPair.generate().privateKeyBytes != pair.privateKeyBytes)
    }

    // MARK: Parsing

    static let rejectedSecrets: [String] = [
        "",
        "whsec_",
        "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        "WHSEC_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        "whsk_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        " whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw ",
        "whsec_MfKQ9r8GKYqrTwjU PD8ILPZIo2LaLaSw",
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaS!",
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLa-_",
        "whsec_" + Data(repeating: 7, count: 32).base64EncodedString().replacingOccurrences(of: "=", with: ""),
        "whsec_" + Data(repeating: 7, count: 23).base64EncodedString(),
        "whsec_" + Data(repeating: 7, count: 65).base64EncodedString(),
    ]

    @Test("parsing a secret rejects a wrong prefix, bad base64 and 23 or 65 bytes without echoing the input",
          arguments: rejectedSecrets)
    func rejectedSecret(text: String) {
        #expect {
            try WebhookSecret(parsing: text)
        } throws: { error in
            guard let error = error as? WebhookKeyError else { return false }
            return secretFree(error, input: text, prefix: "whsec_")
        }
    }

    @Test("a secret's length must be 24 to 64 bytes", arguments: [0, 1, 23, 24, 32, 64, 65, 128])
    func secretLength(count: Int) throws {
        let bytes = [UInt8](repeating: 0xA5, count: count)
        if WebhookSecret.byteCountRange.contains(count) {
            let secret = try WebhookSecret(bytes: bytes)
            #expect(try WebhookSecret(parsing: secret.text) == secret)
        } else {
            #expect(throws: WebhookKeyError("webhook secret must be 24 to 64 bytes, not \(count)")) {
                try WebhookSecret(bytes: bytes)
            }
        }
    }

    @Test("a secret's text round-trips and is canonical padded base64")
    func secretText() throws {
        let secret = try WebhookSecret(bytes: Array(0..<25))
        #expect(secret.text == "whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGA==")
        #expect(try WebhookSecret(parsing: secret.text) == secret)
        // Nonzero unused bits in the last character would give a second text for the same bytes.
        #expect(throws: WebhookKeyError.self) {
            try WebhookSecret(parsing: "whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGB==")
        }
        #expect(try WebhookSecret(parsing: Self.vectorSecret).text == Self.vectorSecret)
        #expect(try WebhookSecret(bytes: Array(0..<25)) != WebhookSecret(bytes: Array(1..<26)))
    }

    @Test(
        "parsing a public or private Ed25519 key rejects a wrong prefix, bad base64 and wrong lengths",
        arguments: [31, 32, 33])
    func rejectedEd25519Keys(count: Int) {
        let encoded = Data(repeating: 9, count: count).base64EncodedString()
        let publicInputs = ["whsk_" + encoded, "whsec_" + encoded, encoded, "whpk_" + encoded + "!"]
            + (count == 32 ? [] : ["whpk_" + encoded])
        for text in publicInputs {
            #expect {
                try WebhookPublicKey(parsing: text)
            } throws: { error in
                guard let error = error as? WebhookKeyError else { return false }
                return secretFree(error, input: text, prefix: "whpk_")
            }
        }
        let privateInputs = ["whpk_" + encoded, "whsec_" + encoded, encoded, "whsk_" + encoded + "!"]
            + (count == 32 ? [] : ["whsk_" + encoded])
        for text in privateInputs {
            #expect {
                try WebhookSigningKeyPair(parsing: text)
            } throws: { error in
                guard let error = error as? WebhookKeyError else { return false }
                return secretFree(error, input: text, prefix: "whsk_")
            }
        }
        if count != 32 {
            #expect(throws: WebhookKeyError.self) { try WebhookPublicKey(bytes: Array(repeating: 9, count: count)) }
            #expect(throws: WebhookKeyError.self) {
                try WebhookSigningKeyPair(privateKeyBytes: Array(repeating: 9, count: count))
            }
        }
    }

    // MARK: Redaction

    @Test("a secret's description is redacted")
    func secretDescription() {
        let secret = WebhookSecret.generate()
        #expect(secret.description == "whsec_…(redacted)")
        #expect(!secret.description.contains(Self.base64(of: secret)))
    }

    @Test("a secret's debug description and String(reflecting:) are redacted")
    func secretReflecting() {
        let secret = WebhookSecret.generate()
        #expect(secret.debugDescription == "whsec_…(redacted)")
        #expect(!String(reflecting: secret).contains(Self.base64(of: secret)))
        #expect(String(reflecting: secret) == "whsec_…(redacted)")
    }

    @Test("string interpolation of a secret, and of a signing key holding it, is redacted")
    func secretInterpolation() {
        let secret = WebhookSecret.generate()
        let key = WebhookSigningKey.hmac(secret)
        let texts = ["\(secret)", "secret \(secret) here", "\(key)", "\([key])", String(describing: key)]
        for text in texts {
            #expect(!text.contains(Self.base64(of: secret)))
            #expect(text.contains("(redacted)"))
        }
    }

    @Test("dump of a secret does not show its bytes")
    func secretDump() {
        let secret = WebhookSecret.generate()
        var dumped = ""
        dump(secret, to: &dumped)
        #expect(!dumped.contains(Self.base64(of: secret)))
        #expect(dumped.contains("byteCount: 32"))
    }

    @Test("a key pair's description is redacted and names the public key")
    func keyPairDescription() {
        let pair = WebhookSigningKeyPair.generate()
        #expect(pair.description == "whsk_…(redacted) for \(pair.publicKeyText)")
        #expect(!pair.description.contains(Self.base64(of: pair)))
    }

    @Test("a key pair's debug description and String(reflecting:) are redacted")
    func keyPairReflecting() {
        let pair = WebhookSigningKeyPair.generate()
        #expect(!pair.debugDescription.contains(Self.base64(of: pair)))
        #expect(!String(reflecting: pair).contains(Self.base64(of: pair)))
        #expect(String(reflecting: pair).contains("(redacted)"))
    }

    @Test("string interpolation and dump of a key pair, and of a signing key holding it, are redacted")
    func keyPairInterpolation() {
        let pair = WebhookSigningKeyPair.generate()
        let key = WebhookSigningKey.ed25519(pair)
        var dumped = ""
        dump(pair, to: &dumped)
        dump(key, to: &dumped)
        let texts = ["\(pair)", "pair \(pair) here", "\(key)", "\([key])", String(describing: key), dumped]
        for text in texts {
            #expect(!text.contains(Self.base64(of: pair)))
            #expect(!text.contains(pair.privateKeyText))
        }
    }

    // MARK: Generation

    @Test("generate gives distinct secrets of 32 bytes by default")
    func generation() {
        let secrets = (0..<64).map { _ in WebhookSecret.generate() }
        #expect(secrets.allSatisfy { $0.bytes.count == 32 })
        #expect(Set(secrets.map(\.bytes)).count == secrets.count)
        #expect(secrets.allSatisfy { $0.text.hasPrefix("whsec_") && $0.text.count == 6 + 44 })
        #expect(WebhookSecret.generate(byteCount: 24).bytes.count == 24)
        #expect(WebhookSecret.generate(byteCount: 64).bytes.count == 64)
    }

    // MARK: Helpers

    /// The base64 part of a secret's text: what must never be printed.
    static func base64(of secret: WebhookSecret) -> String {
        String(secret.text.dropFirst(WebhookSecret.prefix.count))
    }

    /// The base64 of a key pair's private seed: what must never be printed.
    static func base64(of pair: WebhookSigningKeyPair) -> String {
        Data(pair.privateKeyBytes).base64EncodedString()
    }

    /// Whether `error` is one lowercase line that quotes neither `input` nor what follows its prefix.
    func secretFree(_ error: WebhookKeyError, input: String, prefix: String) -> Bool {
        let message = error.message
        let rest = input.hasPrefix(prefix) ? String(input.dropFirst(prefix.count)) : input
        return !message.isEmpty && !message.contains("\n") && message.first?.isLowercase == true
            && error.description == message
            && (input.isEmpty || !message.contains(input))
            && (rest.count < 4 || !message.contains(rest))
    }

    func verify(
        _ header: String, id: String = Self.id, timestamp: Int64 = Self.timestamp, body: [UInt8] = Self.body,
        secret: WebhookSecret
    ) -> Bool {
        WebhookSignature.verify(
            header: header, id: id, timestamp: timestamp, body: body, secret: secret, now: Self.now)
    }

    func verify(
        _ header: String, id: String = Self.id, timestamp: Int64 = Self.timestamp, body: [UInt8] = Self.body,
        publicKey: WebhookPublicKey
    ) -> Bool {
        WebhookSignature.verify(
            header: header, id: id, timestamp: timestamp, body: body, publicKey: publicKey, now: Self.now)
    }
}
