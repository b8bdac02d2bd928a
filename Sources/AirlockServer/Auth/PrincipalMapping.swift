import AirlockCore

/// How a verified JWT becomes a principal id, so that no two callers share one:
///
/// - a token of the primary human issuer: its `sub` as it is (`alice`);
/// - a token of any other issuer (workload issuers, further human issuers): `ISSUER#sub`
///   (`https://k8s-a.example#system:serviceaccount:ci:deployer`);
/// - an `alk_` token: `token:<name>` (``ApiTokenRecord/principalPrefix``).
///
/// The three forms cannot overlap, byte for byte: an issuer never contains `#` nor starts with `token:` (checked in
/// the configuration), so a qualified id splits at its first `#` into exactly one issuer and subject, and never starts
/// with `token:`; a primary-issuer subject that contains `#` or starts with `token:` is refused
/// (`unsupported_subject`), so a bare id is never a qualified or a token id.
///
/// A token's `manager` claim names a subject of the same issuer and becomes a principal id the same way
/// (``managerID(claim:issuer:primaryIssuer:)``).
public enum PrincipalMapping {
    /// The byte between issuer and subject in a qualified id.
    public static let separator = UInt8(ascii: "#")

    /// The principal id of `subject` signed by `issuer`, with `primaryIssuer` the configured primary human issuer.
    public static func id(subject: String, issuer: String, primaryIssuer: String?) throws(AuthFailure) -> String {
        if let primaryIssuer, Principal.sameID(issuer, primaryIssuer) {
            guard isBareSubject(subject) else { throw .unsupportedSubject }
            return subject
        }
        return issuer + "#" + subject
    }

    /// The principal id of the manager a token of `issuer` names in its `manager` claim: the id that manager's own
    /// token of `issuer` authenticates as (``id(subject:issuer:primaryIssuer:)``), so `bob` from the primary issuer
    /// and `ISSUER#bob` from any other. No claim, or an empty one, is no manager (`nil`); a primary-issuer manager
    /// that contains `#` or starts with `token:` is refused (`unsupported_subject`), as such a `sub` is: it would
    /// name a principal of another issuer or an `alk_` token.
    public static func managerID(
        claim: String?, issuer: String, primaryIssuer: String?
    ) throws(AuthFailure) -> String? {
        guard let claim, !claim.isEmpty else { return nil }
        return try id(subject: claim, issuer: issuer, primaryIssuer: primaryIssuer)
    }

    /// Whether `subject` may stand for itself as a principal id: no `#` byte, and not starting with `token:`.
    /// (Bytes, not characters: `"#\u{301}"` is one character but holds the `#` byte.)
    public static func isBareSubject(_ subject: String) -> Bool {
        !subject.utf8.contains(separator) && !subject.utf8.starts(with: ApiTokenRecord.principalPrefix.utf8)
    }

    /// Why `issuer` cannot be configured, if it cannot: it would make qualified ids ambiguous.
    static func problem(withIssuer issuer: String) -> String? {
        if issuer.utf8.contains(separator) { return "an issuer must not contain `#` (it separates issuer and subject in principal ids)" }
        if issuer.utf8.starts(with: ApiTokenRecord.principalPrefix.utf8) {
            return "an issuer must not start with `token:` (the prefix of airlock token principals)"
        }
        return nil
    }
}
