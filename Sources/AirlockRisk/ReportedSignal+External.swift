import AirlockCore

extension ReportedSignal {
    /// An active external signal (`SignalStore.active(for:at:)`) as the score counts it: its name, severity,
    /// sender and end. The detail text is not carried: it is the sender's free text, not a reason Airlock gives.
    public init(_ signal: ExternalSignal) {
        self.init(name: signal.name, severity: signal.severity, source: signal.source, expiresAt: signal.expiresAt)
    }
}
