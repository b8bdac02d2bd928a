import HTTPTypes
import Hummingbird

/// Answers 405 `method_not_allowed`, with `Allow` listing the methods the path has, when a request names a path the
/// router serves with a method it does not serve there (RFC 9110 §15.5.6); Hummingbird alone answers 404.
///
/// Add it to the router after the last route (`router.add(middleware: MethodNotAllowedMiddleware(router: router))`):
/// Hummingbird applies a middleware to the routes added after it and to the not-found responder, so it then runs
/// only for requests no route matched, behind the request id and authentication middleware (an undeclared method on
/// a `/v1` path still needs a token). The path is resolved as the router's trie resolves it: segment by segment, a
/// literal segment before a parameter, so `/v1/tokens/introspect` is that route, not `/v1/tokens/{id}`. Wildcard
/// routes (`*`, `**`) match one segment each here; the broker has none.
struct MethodNotAllowedMiddleware<Context: RequestContext>: RouterMiddleware {
    /// One path of the router and the methods it serves.
    struct Route: Sendable {
        let components: [RouterPath.Element]
        var methods: Set<HTTPRequest.Method>
    }

    let routes: [Route]

    /// Takes the routes the router has now; routes added later are not seen.
    init(router: Router<Context>) {
        self.init(routes: router.routes.map { ($0.path, $0.method) })
    }

    init(routes: [(path: RouterPath, method: HTTPRequest.Method)]) {
        var byPath: [String: Route] = [:]
        var order: [String] = []
        for (path, method) in routes {
            let key = path.description
            if byPath[key] == nil {
                byPath[key] = Route(components: path.components, methods: [])
                order.append(key)
            }
            byPath[key]?.methods.insert(method)
        }
        self.routes = order.compactMap { byPath[$0] }
    }

    func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        guard let route = route(for: request.uri.path), !route.methods.contains(request.method) else {
            return try await next(request, context)
        }
        let allowed = route.methods.map(\.rawValue).sorted().joined(separator: ", ")
        let error = APIError(.methodNotAllowed, code: "method_not_allowed", message: "this path allows \(allowed)")
        // The request id middleware put the id in the logger's metadata; it also sets `X-Request-Id` on the way out.
        let requestID = context.logger[metadataKey: "request_id"].map { "\($0)" } ?? ""
        var response = APIError.response(for: error, requestID: requestID, logger: context.logger)
        response.headers[.allow] = allowed
        return response
    }

    /// The route the router's trie would pick for `path`, if any: among those whose segments all match, the one
    /// with a literal segment where the others have a parameter, leftmost first.
    func route(for path: String) -> Route? {
        let segments = path.split(separator: "/", omittingEmptySubsequences: true)
        var best: (route: Route, rank: [Int])?
        for route in routes where route.components.count == segments.count {
            guard zip(route.components, segments).allSatisfy({ $0 ~= $1 }) else { continue }
            // 1 for a literal segment (an element equals its own text only when it is a literal), 0 for a parameter.
            let rank = route.components.map { $0 == $0.description ? 1 : 0 }
            if let current = best, !current.rank.lexicographicallyPrecedes(rank) { continue }
            best = (route, rank)
        }
        return best?.route
    }
}
