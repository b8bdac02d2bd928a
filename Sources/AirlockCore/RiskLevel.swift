/// A principal's risk level, as CAEP's `risk-level-change` names it: the score of their latest request against two
/// thresholds (``RiskLevel/of(score:medium:high:)``).
public enum RiskLevel: String, Sendable, Hashable, CaseIterable, Comparable {
    case low = "LOW"
    case medium = "MEDIUM"
    case high = "HIGH"

    /// `HIGH` from `high` up, `MEDIUM` from `medium` up, else `LOW`.
    public static func of(score: Int64, medium: Int64, high: Int64) -> RiskLevel {
        if score >= high { return .high }
        if score >= medium { return .medium }
        return .low
    }

    private var rank: Int { Self.allCases.firstIndex(of: self) ?? 0 }

    public static func < (lhs: RiskLevel, rhs: RiskLevel) -> Bool { lhs.rank < rhs.rank }
}
