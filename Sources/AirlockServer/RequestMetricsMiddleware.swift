import Dispatch
import HTTPTypes
import Hummingbird
import Metrics
import Synchronization

/// Records every request in swift-metrics under the names and dimensions of Hummingbird's `MetricsMiddleware`
/// (`hb.requests`, `http.server.request.duration`, `hb.request.errors`, `http.server.active_requests`), so
/// `/metrics` shows the same series.
///
/// Why not Hummingbird's: it records after the body is written, by wrapping every response body in a closure,
/// which takes the response off Hummingbird's fast path (head, body and end in one write) onto the streaming one:
/// three writes, three flushes and three system calls per answer. That was about a fifth of the broker's CPU
/// under introspection load (issue 13). Airlock's answers are one buffer each, so this records when the response is
/// ready to write and leaves its body alone: the duration no longer includes the write of the bytes to the socket.
struct RequestMetricsMiddleware<Context: RequestContext>: RouterMiddleware {
    private let cache = RequestMetrics()

    func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        let started = DispatchTime.now().uptimeNanoseconds
        let active = cache.active(request.method)
        active.increment()
        defer { active.decrement() }
        do {
            let response = try await next(request, context)
            let metrics = cache.endpoint(context.endpointPath ?? "Unknown", request.method, response.status)
            metrics.counter.increment()
            metrics.timer.recordNanoseconds(Int64(DispatchTime.now().uptimeNanoseconds &- started))
            return response
        } catch {
            let status = (error as? any HTTPResponseError)?.status ?? .internalServerError
            let metrics = cache.endpoint(context.endpointPath ?? "NotFound", request.method, status)
            metrics.counter.increment()
            metrics.errorCounter.increment()
            throw error
        }
    }
}

/// The metric handles of ``RequestMetricsMiddleware``, made once per method and per route, method and status.
private final class RequestMetrics: Sendable {
    struct Endpoint: Sendable {
        let counter: Counter
        let timer: Metrics.Timer
        let errorCounter: Counter
    }

    private struct EndpointKey: Hashable {
        let route: String
        let method: HTTPRequest.Method
        let status: Int
    }

    private let meters = Mutex<[HTTPRequest.Method: Meter]>([:])
    private let endpoints = Mutex<[EndpointKey: Endpoint]>([:])

    func active(_ method: HTTPRequest.Method) -> Meter {
        meters.withLock { meters in
            if let meter = meters[method] { return meter }
            let meter = Meter(label: "http.server.active_requests", dimensions: [("http.request.method", method.rawValue)])
            meters[method] = meter
            return meter
        }
    }

    func endpoint(_ route: String, _ method: HTTPRequest.Method, _ status: HTTPResponse.Status) -> Endpoint {
        let key = EndpointKey(route: route, method: method, status: status.code)
        return endpoints.withLock { endpoints in
            if let endpoint = endpoints[key] { return endpoint }
            let dimensions = [
                ("http.route", route), ("http.request.method", method.rawValue),
                ("http.response.status_code", String(status.code)),
            ]
            let endpoint = Endpoint(
                counter: Counter(label: "hb.requests", dimensions: dimensions),
                timer: Metrics.Timer(
                    label: "http.server.request.duration", dimensions: dimensions, preferredDisplayUnit: .seconds),
                errorCounter: Counter(label: "hb.request.errors", dimensions: [
                    ("http.route", route), ("http.request.method", method.rawValue),
                    ("error.type", String(status.code)),
                ]))
            endpoints[key] = endpoint
            return endpoint
        }
    }
}
