import AirlockCore
import AirlockServer
import AirlockTestSupport
import Foundation
import Testing

/// `ssf.receiver.config_file`: what it reads, and every mistake refused with a line that names it (never the token).
struct SharedSignalsConfigurationTests {
    static let token = String(repeating: "a1", count: 32)

    /// Writes `json` and a token file beside it; the configuration read, or the error's message.
    static func load(_ json: String, token: String = token) throws -> Result<SharedSignalsReceiverConfiguration, ConfigurationFileError> {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("ssf-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        try Data((token + "\n").utf8).write(to: directory.appendingPathComponent("idp.token"))
        try Data(#"{"keys": []}"#.utf8).write(to: directory.appendingPathComponent("idp.jwks"))
        let path = directory.appendingPathComponent("ssf.json").path
        try Data(json.utf8).write(to: URL(fileURLWithPath: path))
        do {
            return .success(try SharedSignalsReceiverConfiguration.load(fromFile: path))
        } catch {
            return .failure(error)
        }
    }

    static func transmitter(_ extra: String = "") -> String {
        #"{"transmitters": [{"issuer": "https://idp.test", "jwks_file": "idp.jwks", "audiences": ["https://airlock.test/ssf"], "authorization_token_file": "idp.token""# + extra + "}]}"
    }

    @Test("a transmitter with its token read from its file (trimmed), its subject mapping and changed events")
    func reads() throws {
        let configuration = try Self.load(Self.transmitter("""
            , "subject_issuer": "https://login.test", "email_is_subject": true, "max_age_seconds": 600,
            "events": {"credential-change": {"ignore": true},
                       "session-revoked": {"signal": "idp_logout", "severity": "critical", "ttl": "2h"}}
            """)).get()
        let transmitter = try #require(configuration.transmitters.first)
        #expect(transmitter.issuer == "https://idp.test" && transmitter.audiences == ["https://airlock.test/ssf"])
        #expect(transmitter.authorizationToken == Self.token)
        #expect(transmitter.subjectIssuer == "https://login.test" && transmitter.emailIsSubject)
        #expect(transmitter.maximumAgeSeconds == 600)
        #expect(transmitter.signal(for: .credentialChange) == nil)
        #expect(transmitter.signal(for: .sessionRevoked)
                == SharedSignalEvent.SignalMapping(name: "idp_logout", severity: .critical, ttlSeconds: 7_200))
        #expect(transmitter.signal(for: .credentialCompromise) == SharedSignalEvent.credentialCompromise.defaultSignal)
        #expect(transmitter.signal(for: .verification) == nil)
        if case .file(let path) = transmitter.jwks { #expect(path.hasSuffix("/idp.jwks")) } else { Issue.record("jwks") }
    }

    @Test("mistakes are refused, each naming what is wrong", arguments: [
        (#"{"transmitters": [], "extra": 1}"#, "unknown field `extra`"),
        (transmitter(#", "audience": 5"#), "`audience` in transmitters[0] must be a string"),
        (transmitter(#", "aud": "x""#), "unknown field `aud`"),
        (transmitter(#", "jwks_url": "http://idp.test/keys""#), "exactly one of `jwks_file` and `jwks_url`"),
        (#"{"transmitters": [{"issuer": "https://idp.test", "jwks_url": "http://idp.test/keys", "audiences": ["a"], "authorization_token_file": "idp.token"}]}"#,
         "must be an https url"),
        (transmitter(#", "events": {"verification": {"severity": "high"}}"#), "not an event airlock acts on"),
        (transmitter(#", "events": {"session-revoked": {"severity": "urgent"}}"#), "severity` must be one of"),
        (transmitter(#", "events": {"session-revoked": {"ttl": "10s"}}"#), "between 1m and 30d"),
        (transmitter(#", "events": {"session-revoked": {"signal": "burst"}}"#), "computes itself"),
        (transmitter(#", "events": {"session-revoked": {"signal": "Bad-Name"}}"#), "must match"),
        (transmitter(#", "events": {"session-revoked": {"sevrity": "low"}}"#), "unknown field `sevrity`"),
        (transmitter(#", "max_age_seconds": 5"#), "`max_age_seconds` must be between"),
        (#"{"transmitters": [{"issuer": "https://idp.test", "jwks_file": "idp.jwks", "audiences": [], "authorization_token_file": "idp.token"}]}"#,
         "at least one non-empty audience"),
        (#"{"transmitters": [{"issuer": "https://idp.test", "jwks_file": "idp.jwks", "audiences": ["a"], "authorization_token_file": "missing.token"}]}"#,
         "cannot read `authorization_token_file`"),
        (#"{"transmitters": [{"issuer": "https://idp.test", "jwks_file": "idp.jwks", "audiences": ["a"]}]}"#,
         "exactly one of `authorization_token_file` and `authorization_token`"),
        (#"{"transmitters": [{"issuer": "https://idp.test", "jwks_file": "idp.jwks", "audience": "a", "authorization_token": "short"}]}"#,
         "at least 32 bytes"),
        ("[1]", "must be an object"),
        ("{", "as json"),
    ])
    func refused(json: String, message: String) throws {
        guard case .failure(let error) = try Self.load(json) else {
            Issue.record("accepted: \(json)")
            return
        }
        #expect(error.message.contains(message), "\(error.message)")
        #expect(!error.message.contains(Self.token))
    }

    @Test("a token shorter than 32 bytes is refused, and the message does not show it")
    func shortToken() throws {
        guard case .failure(let error) = try Self.load(Self.transmitter(), token: "short-secret-123") else {
            Issue.record("a short token was accepted")
            return
        }
        #expect(error.message.contains("at least 32 bytes"))
        #expect(!error.message.contains("short-secret-123"))
    }

    @Test("the names of the issue and of SSF metadata are read too: audience, authorization_token, jwks_uri")
    func aliases() throws {
        let token = String(repeating: "b2", count: 32)
        let configuration = try Self.load(#"{"transmitters": [{"issuer": "https://idp.test", "jwks_uri": "https://idp.test/keys", "audience": "https://airlock.test/ssf", "authorization_token": "\#(token)"}]}"#).get()
        let transmitter = try #require(configuration.transmitters.first)
        #expect(transmitter.audiences == ["https://airlock.test/ssf"] && transmitter.authorizationToken == token)
        #expect(transmitter.jwks == .url(try #require(URL(string: "https://idp.test/keys"))))
    }

    @Test("printing or dumping a transmitter, or the signing key, never shows the token or the private key")
    func neverPrinted() throws {
        let configuration = try Self.load(Self.transmitter()).get()
        var dumped = ""
        dump(configuration, to: &dumped)
        for text in ["\(configuration)", String(reflecting: configuration), dumped] {
            #expect(!text.contains(Self.token) && text.contains("https://idp.test"), "\(text)")
        }
        let signer = try SecurityEventSigner.generate()
        var key = ""
        dump(signer, to: &key)
        #expect(!key.contains("PRIVATE") && key.contains(signer.keyID) && "\(signer)" == "RS256 key \(signer.keyID)")
    }

    @Test("the same issuer twice is refused")
    func twice() throws {
        let entry = #"{"issuer": "https://idp.test", "jwks_file": "idp.jwks", "audiences": ["a"], "authorization_token_file": "idp.token"}"#
        guard case .failure(let error) = try Self.load(#"{"transmitters": [\#(entry), \#(entry)]}"#) else {
            Issue.record("accepted")
            return
        }
        #expect(error.message.contains("configured twice"))
    }
}
