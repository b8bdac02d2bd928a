import AirlockCore
import AirlockPostgres
import AirlockRisk
import AirlockStore
import Foundation
import Logging

/// The risk engine behind every decision: the principal's baseline and active external signals read from
/// PostgreSQL (at once), scored by ``RiskScorer``.
///
/// When the baseline cannot be read the request is not waved through as riskless: the assessment carries
/// `risk_unavailable` at weight 100, so a policy that permits only below some score refuses it, and says why.
public struct BaselineRiskAssessor: RiskAssessor {
    public let store: RiskBaselineStore
    /// Where active external signals are read (`POST /v1/signals`); nil: none are counted.
    public let signals: SignalStore?
    public let scorer: RiskScorer
    public let clock: any WallClock
    public let logger: Logger

    /// The signal of an assessment whose baseline could not be read.
    public static let unavailableSignal = "risk_unavailable"

    public init(
        store: RiskBaselineStore, signals: SignalStore? = nil, scorer: RiskScorer, clock: any WallClock, logger: Logger
    ) {
        self.store = store
        self.signals = signals
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
        let store = self.store, signals = self.signals, logger = self.logger
        do {
            async let reported = signals?.active(for: principal.id, at: now, logger: logger) ?? []
            let baseline = try await store.baseline(RiskBaselineStore.Query(
                principal: principal.id, groups: principal.kind == .user ? principal.groups : [], resource: resource.id,
                sourceIP: ask.sourceIP, at: now,
                hoursSince: now.addingTimeInterval(-TimeInterval(settings.hourOfWeekWindow)),
                burstWindowSeconds: settings.burstWindow, role: ask.role,
                activationsSince: now.addingTimeInterval(-TimeInterval(settings.repeatedActivationWindow))))
            return scorer.assess(facts, baseline: baseline, reported: try await reported.map(ReportedSignal.init))
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
