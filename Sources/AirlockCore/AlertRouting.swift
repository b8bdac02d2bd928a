/// How an audit event is routed to the security team: its severity and its channels (`data.severity`,
/// `data.channels`), the two things webhook endpoints filter on (`min_severity`, `channels`). One place decides
/// them, so `Docs/alerts.md` can list them and a test can hold every rule.
///
/// Events a security team must see whatever the policy says — break-glass, forbids with `notify`, the kill switch,
/// credentials that could not be revoked, alerts that could not be delivered — carry the ``security`` channel
/// beside the policy's own `notify` channels, so one endpoint with `channels: ["security"]` receives them all.
public enum AlertRouting {
    /// The channel of every alert for the security team.
    public static let security = "security"

    /// The reason the kill switch (`POST /v1/principals/{id}/revoke-all`) gives the leases and requests it ends.
    public static func killSwitchReason(by actor: String) -> String { "revoke-all by \(actor)" }

    /// Whether `reason` is the kill switch's.
    public static func isKillSwitch(_ reason: String) -> Bool { reason.hasPrefix("revoke-all by ") }

    /// The routing of an event about an access request.
    ///
    /// - A break-glass request: `critical` and ``security`` on every event of it (someone bypassed review).
    /// - A request a `forbid` with `notify` denied (the decision is `deny` and names channels): `high` and
    ///   ``security`` (someone asked for what a rule says must never be granted).
    /// - A request closed by the kill switch: `high` and ``security``.
    /// - Anything else: `info`, the policy's `notify` channels.
    public static func accessRequest(
        notify: [String], denied: Bool, breakGlass: Bool, killSwitch: Bool = false
    ) -> (severity: Severity, channels: [String]) {
        if breakGlass { return (.critical, adding(security, to: notify)) }
        if killSwitch || (denied && !notify.isEmpty) { return (.high, adding(security, to: notify)) }
        return (.info, notify)
    }

    /// The routing of `airlock.credential.revoked`: `high` and ``security`` when the kill switch ended the lease,
    /// else `info`.
    public static func credentialRevoked(reason: String) -> (severity: Severity, channels: [String]) {
        isKillSwitch(reason) ? (.high, [security]) : (.info, [])
    }

    /// The routing of `airlock.signal.received` and `airlock.signal.withdrawn`: the signal's own severity, and
    /// ``security`` when that is `high` or `critical` (a compromised device or a leaked credential is the security
    /// team's to see; so is the withdrawal of such a signal, which lowers a principal's risk again).
    public static func externalSignal(severity: Severity) -> (severity: Severity, channels: [String]) {
        severity >= .high ? (severity, [security]) : (severity, [])
    }

    /// The routing of an operational failure the security team must act on (a revocation or issuance that failed,
    /// a dead letter, a disabled webhook endpoint): `high` and ``security``.
    public static let failure: (severity: Severity, channels: [String]) = (.high, [security])

    private static func adding(_ channel: String, to channels: [String]) -> [String] {
        channels.contains(channel) ? channels : channels + [channel]
    }
}
