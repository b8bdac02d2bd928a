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

    /// The routing of the events that ask people to decide a request (`airlock.access.approval_needed` when it
    /// starts waiting, `.approval_reminder` after `approvals.reminder_after_seconds`): the policy's `notify` channels
    /// and one channel per approver the request waits for — each group by its name (`db-owners`), each named person
    /// as `user:ID` — so an endpoint subscribed to `db-owners` hears what db-owners must decide. `info`; `critical`
    /// and ``security`` for break-glass.
    public static func approvalNeeded(
        notify: [String], waitingFor: ApproversWaitedFor, breakGlass: Bool
    ) -> (severity: Severity, channels: [String]) {
        var channels = notify
        for channel in waitingFor.channels where !channels.contains(channel) { channels.append(channel) }
        return breakGlass ? (.critical, adding(security, to: channels)) : (.info, channels)
    }

    /// The routing of `airlock.access.approval_escalated`: nobody decided within `approvals.escalation_after_seconds`,
    /// so the escalation group (`approvals.escalation_group`, the on-call say) hears of it beside the approvers:
    /// `medium`.
    public static func approvalEscalated(
        notify: [String], waitingFor: ApproversWaitedFor, escalationGroup: String
    ) -> (severity: Severity, channels: [String]) {
        let routed = approvalNeeded(notify: notify, waitingFor: waitingFor, breakGlass: false)
        return (.medium, adding(escalationGroup, to: routed.channels))
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
