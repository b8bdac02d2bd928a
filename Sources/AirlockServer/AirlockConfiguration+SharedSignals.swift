import AirlockCore
import Foundation

/// Airlock's identity as a Shared Signals transmitter: its issuer (the public base URL of the broker, which its
/// endpoints' URLs are built on) and the RSA key its SETs are signed with.
public struct SharedSignalsTransmitterSettings: Sendable {
    /// `iss` of every SET, e.g. `https://airlock.example.com`.
    public var issuer: String
    /// The signing key (RS256, at least 2048 bits).
    public var signer: SecurityEventSigner

    public init(issuer: String, signer: SecurityEventSigner) {
        self.issuer = issuer
        self.signer = signer
    }

    /// The URL of `path` under the issuer (`/ssf/streams` → `https://airlock.example.com/ssf/streams`).
    public func url(_ path: String) -> String {
        (issuer.hasSuffix("/") ? String(issuer.dropLast()) : issuer) + path
    }

    /// Whether `issuer` can name a transmitter: an absolute https URL without query or fragment, or http on a
    /// loopback host (development).
    static func isValidIssuer(_ issuer: String) -> Bool {
        guard let url = URL(string: issuer), let scheme = url.scheme?.lowercased(), let host = url.host, !host.isEmpty,
              url.query == nil, url.fragment == nil, url.user == nil
        else { return false }
        if scheme == "https" { return true }
        return scheme == "http" && ["127.0.0.1", "localhost", "[::1]", "::1"].contains(host.lowercased())
    }
}

extension AirlockConfiguration {
    /// `ssf.transmitter.issuer` and `ssf.transmitter.signing_key_file`: both, or neither.
    mutating func loadSharedSignalsTransmitter(reader: inout ConfigurationReader) throws(ConfigurationError) {
        let issuer = try reader.string("ssf.transmitter.issuer")
        let keyFile = try reader.string("ssf.transmitter.signing_key_file")
        switch (issuer, keyFile) {
        case (nil, nil):
            return
        case (let issuer?, let keyFile?):
            guard SharedSignalsTransmitterSettings.isValidIssuer(issuer) else {
                throw reader.invalid("ssf.transmitter.issuer")
            }
            let pem: [UInt8]
            do {
                pem = try SecretFile.read(keyFile)
            } catch {
                throw ConfigurationError(key: "ssf.transmitter.signing_key_file", message: "\(error)")
            }
            do {
                sharedSignalsTransmitter = SharedSignalsTransmitterSettings(
                    issuer: issuer, signer: try SecurityEventSigner(pem: String(decoding: pem, as: UTF8.self)))
            } catch {
                throw ConfigurationError(key: "ssf.transmitter.signing_key_file", message: error.message)
            }
        case (nil, _):
            throw ConfigurationError(
                key: "ssf.transmitter.issuer", message: "required with `ssf.transmitter.signing_key_file`")
        case (_, nil):
            throw ConfigurationError(
                key: "ssf.transmitter.signing_key_file", message: "required with `ssf.transmitter.issuer`")
        }
    }
}
