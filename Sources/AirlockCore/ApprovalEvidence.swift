/// What an approver may say they relied on when approving (`relied_on` in a review): the facts Airlock shows with a
/// pending request. Recorded in the review's audit event, so an auditor sees on what grounds access was given.
public enum ApprovalEvidence: String, Sendable, Hashable, CaseIterable {
    /// The risk score and its signals.
    case risk
    /// How many of the requester's peers hold this access.
    case peers
    /// The requester's last uses of this resource.
    case lastUses = "last_uses"
    /// Whether this is the requester's first use of the resource.
    case firstUse = "first_use"
}
