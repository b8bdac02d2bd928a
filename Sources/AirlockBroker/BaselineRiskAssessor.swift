import AirlockCore
import AirlockPostgres
import AirlockRisk
import AirlockStore
import Foundation
import Logging

/// The risk engine behind every decision: the principal's baseline and active external signals read from
/// PostgreSQL in one statement, scored by ``RiskScorer``.
///
/// When the baseline cannot be read the request is not waved through as riskless: the assessment carries
/// `risk_unavailable` at weight 100, so a policy that permits only below some score refuses it, and says why.
public struct BaselineRiskAssessor: RiskAssessor {
    public let store: RiskBaselineStore
    /// Whether active external signals (`POST /v1/signals`) count.
    public let countsSignals: Bool
    public let scorer: RiskScorer
    public let clock: any WallClock
    public let logger: Logger

    /// The signal of an assessment whose baseline could not be read.
    public static let unavailableSignal = "risk_unavailable"

    public init(
        store: RiskBaselineStore, countsSignals: Bool = true, scorer: RiskScorer, clock: any WallClock, logger: Logger
    ) {
        self.store = store
        self.countsSignals = countsSignals
        self.scorer = scorer
        self.clock = clock
        self.logger = logger
    }

    public func assess(principal: Principal, resource: Resource, ask: Ask) async -> RiskAssessment {
        let now = clock.now()
        let settings = scorer.settings
        let facts = RiskFacts(
            principalKind: principal.kind, mfaAgeSeconds: principal.mfaAgeSeconds, resource: resource.id,
            sensitivity: resource.sensitivity, sourceIP: ask.sourceIP, breakGlass: ask.breakGlass, at: now, role: ask.role)
        do {
            let (baseline, active) = try await store.assessmentInputs(RiskBaselineStore.Query(
                principal: principal.id, groups: principal.kind == .user ? principal.groups : [], resource: resource.id,
                sourceIP: ask.sourceIP, at: now,
                hoursSince: now.addingTimeInterval(-TimeInterval(settings.hourOfWeekWindow)),
                hourOfWeek: HourOfWeek.of(now, in: scorer.timeZone),
                burstWindowSeconds: settings.burstWindow, role: ask.role,
                activationsSince: now.addingTimeInterval(-TimeInterval(settings.repeatedActivationWindow))))
            var assessment = scorer.assess(
                facts, baseline: baseline, reported: countsSignals ? active.map(ReportedSignal.init) : [])
            assessment.level = (
                RiskLevel.of(score: assessment.score, medium: settings.mediumLevel, high: settings.highLevel),
                baseline.riskLevel)
            return assessment
        } catch {
            logger.error("risk baseline unreadable: the request is scored 100", metadata: [
                "principal": "\(principal.id)", "error": "\(describeDatabaseError(error))",
            ])
            var assessment = RiskAssessment(signals: [RiskSignal(
                name: Self.unavailableSignal, weight: 100, detail: "the principal's risk baseline could not be read")])
            assessment.anomaly = AnomalyAlert(
                severity: .high, reasons: ["the risk engine could not read the principal's baseline: scored 100"])
            return assessment
        }
    }
}
