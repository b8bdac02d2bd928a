import AirlockAudit
import AirlockBroker
import ServiceLifecycle

/// The SIEM sink's dispatcher (`AuditSinkDispatcher`) as a service: it writes once the database is ready, wakes on
/// every `airlock_audit_chained` notification (wired to the `AuditChainListener`) and polls every `fallback`; at
/// shutdown it gives its claim up, so another replica writes the sink at its next pass, and closes the file.
struct AuditSinkService: Service {
    let dispatcher: AuditSinkDispatcher
    let sink: JSONLinesSink
    let readiness: Readiness
    let fallback: Duration

    func run() async throws {
        let readiness = self.readiness
        await cancelWhenGracefulShutdown {
            await dispatcher.run(fallback: fallback) { readiness.isMet("database") }
        }
        await sink.shutdown()
    }
}

extension AuditSinkService: CustomStringConvertible {
    var description: String {
        "AuditSinkService(\(dispatcher.name): \(sink.format.rawValue) to \(sink.destination), fallback poll every \(fallback))"
    }
}
