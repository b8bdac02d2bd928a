import AirlockCore
import AirlockStore
import Foundation
import Hummingbird

/// `GET /v1/audit?after=SEQ&type=...&limit=N` (auditors and admins): the chained events after a sequence number,
/// `{items, next_after}`; poll with `after=next_after` to follow the chain.
struct AuditRoutes {
    let feed: AuditFeed

    func register(on router: Router<AirlockRequestContext>) {
        router.get("v1/audit") { request, context in
            let principal = try context.requirePrincipal()
            guard principal.has(scope: "auditor") || principal.has(scope: "admin") else {
                throw APIError(.forbidden, code: "forbidden", message: "the audit log needs the `auditor` or `admin` scope")
            }
            let query = request.uri.queryParameters
            let after = try Self.integer(query.get("after"), "after", default: 0, range: 0...Int64.max)
            let limit = try Self.integer(query.get("limit"), "limit", default: 100, range: 1...1000)
            var type: String?
            if let text = query.get("type") {
                guard (1...128).contains(text.utf8.count),
                      text.utf8.allSatisfy({ (0x30...0x39).contains($0) || (0x41...0x5A).contains($0)
                          || (0x61...0x7A).contains($0) || $0 == 0x2E || $0 == 0x5F || $0 == 0x2D })
                else { throw RequestBody.invalid("`type` must be an event type such as airlock.credential.issued") }
                type = text
            }
            let items = try await feed.page(after: after, type: type, limit: Int(limit))
            let last = items.last?["sequence"]?.intValue ?? after
            return JSONResponse.make(.object(["items": .array(items), "next_after": .int(last)]))
        }
    }

    static func integer(_ text: String?, _ name: String, default value: Int64, range: ClosedRange<Int64>) throws -> Int64 {
        guard let text else { return value }
        guard let number = Int64(text), range.contains(number) else {
            throw RequestBody.invalid("`\(name)` must be an integer from \(range.lowerBound) to \(range.upperBound)")
        }
        return number
    }
}
