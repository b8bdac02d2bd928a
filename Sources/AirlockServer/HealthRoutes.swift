import Foundation
import Hummingbird
import Prometheus

/// `/healthz` (the process is up), `/readyz` (it can serve: 503 `not_ready` until it can) and `/metrics`
/// (Prometheus text). None needs a token, so `/readyz` tells nothing but ready or not: why not (a database error,
/// which names hosts, users and databases) goes only to the log.
struct HealthRoutes {
    let readiness: Readiness
    let metrics: PrometheusCollectorRegistry

    func register(on router: Router<AirlockRequestContext>) {
        router.get("healthz") { _, _ in
            Self.json(["status": "ok"])
        }
        router.get("readyz") { _, context in
            let unmet = readiness.unmet
            guard unmet.isEmpty else {
                let reasons = unmet.map { "\($0.condition): \($0.reason)" }.joined(separator: "; ")
                context.logger.notice("not ready", metadata: ["reasons": "\(reasons)"])
                throw APIError(.serviceUnavailable, code: "not_ready", message: "not ready")
            }
            return Self.json(["status": "ready"])
        }
        router.get("metrics") { _, _ in
            Response(
                status: .ok,
                headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(bytes: metrics.emitToBuffer())))
        }
    }

    static func json(_ object: [String: String]) -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let data = (try? encoder.encode(object)) ?? Data()
        return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}
