import Hummingbird

/// Answers 404 `not_found`, before authentication, for a request whose path is not in canonical form: not starting
/// with `/`, with an empty segment (`//v1/tokens`, `/v1//tokens`), a trailing `/` (other than `/` itself), or a
/// `.` or `..` segment. The router collapses empty segments while the authentication middleware and the rate
/// limits look at the path as sent, so a path that means one thing to one and another to the other is refused
/// outright: every component decides on the same path.
struct CanonicalPathMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        guard Self.isCanonical(request.uri.path) else {
            throw APIError(.notFound, code: "not_found", message: "no such path")
        }
        return try await next(request, context)
    }

    /// Whether `path` is `/` or `/` followed by non-empty segments none of which is `.` or `..`.
    static func isCanonical(_ path: String) -> Bool {
        guard path.hasPrefix("/") else { return false }
        if path == "/" { return true }
        let segments = path.dropFirst().split(separator: "/", omittingEmptySubsequences: false)
        return segments.allSatisfy { !$0.isEmpty && $0 != "." && $0 != ".." }
    }
}
