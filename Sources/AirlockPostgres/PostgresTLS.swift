import NIOSSL
import PostgresNIO

/// The TLS settings of a connection, from libpq's `sslmode` and `sslrootcert`, as postgres-nio takes them.
///
/// | sslmode | TLS | certificate |
/// |---|---|---|
/// | `disable` | never | — |
/// | `prefer` | if the server offers it | not checked |
/// | `require` | or no connection | not checked |
/// | `verify-ca` | or no connection | chains to `sslrootcert` (or the system's authorities) |
/// | `verify-full` | or no connection | chains, and names the host connected to (an IP address: in its addresses) |
///
/// An `sslmode` this type does not know gets `verify-full`: a mistake never weakens a connection. (Callers
/// validate the name first and report it; this is the last line.) `sslrootcert` is a PEM file of trusted
/// authorities, or `system` (libpq's word for the system's store, also used when none is given); it applies only
/// to the modes that check certificates.
///
/// SCRAM channel binding (`SCRAM-SHA-256-PLUS`) is not available: postgres-nio 1.33 always answers a server's
/// SASL offer with plain `SCRAM-SHA-256`. `verify-full` is what stops a relayed login.
public struct PostgresTLS: Sendable, Equatable {
    private enum Use: Sendable, Equatable {
        case never, ifOffered, always
    }

    private let use: Use
    private let verification: CertificateVerification
    /// The PEM file of trusted authorities, nil for the system's.
    public let rootCertificateFile: String?

    /// The settings `sslmode` and `sslrootcert` describe.
    public init(sslmode: String, rootCertificate: String? = nil) {
        switch sslmode {
        case "disable": (use, verification) = (.never, .none)
        case "prefer": (use, verification) = (.ifOffered, .none)
        case "require": (use, verification) = (.always, .none)
        case "verify-ca": (use, verification) = (.always, .noHostnameVerification)
        default: (use, verification) = (.always, .fullVerification)
        }
        rootCertificateFile = verification == .none || rootCertificate == "system" ? nil : rootCertificate
    }

    /// Whether the server's certificate is checked at all.
    public var verifiesCertificate: Bool { verification != .none }

    /// Whether the name (or address) in the server's certificate is checked against the host connected to.
    public var verifiesHostname: Bool { verification == .fullVerification }

    /// Whether a server that does not offer TLS is refused.
    public var requiresTLS: Bool { use == .always }

    /// The NIOSSL client settings, nil for `disable`. The authorities' file is read when a connection is made.
    public var configuration: TLSConfiguration? {
        guard use != .never else { return nil }
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.certificateVerification = verification
        if let rootCertificateFile { configuration.trustRoots = .file(rootCertificateFile) }
        return configuration
    }

    /// The setting of a connection pool.
    public var client: PostgresClient.Configuration.TLS {
        guard let configuration else { return .disable }
        return use == .always ? .require(configuration) : .prefer(configuration)
    }

    /// The setting of a single connection; reads the authorities' file now.
    ///
    /// - Throws: NIOSSL's error when the file cannot be read or holds no certificate.
    public func connection() throws -> PostgresConnection.Configuration.TLS {
        guard let configuration else { return .disable }
        let context = try NIOSSLContext(configuration: configuration)
        return use == .always ? .require(context) : .prefer(context)
    }

    /// Checks that the authorities' file (if any) can be read and holds at least one certificate, and says why
    /// not in one line (no secret is involved: the file is public).
    public func checkRootCertificate() -> String? {
        guard let rootCertificateFile else { return nil }
        do {
            let certificates = try NIOSSLCertificate.fromPEMFile(rootCertificateFile)
            return certificates.isEmpty ? "`\(rootCertificateFile)` holds no PEM certificate" : nil
        } catch {
            return "cannot read the certificates in `\(rootCertificateFile)`: \(error)"
        }
    }
}
