import AirlockBroker
import AirlockCore
import AirlockPolicy
import AirlockStore
import Foundation
import HTTPTypes
import Hummingbird
import Logging

/// The console's pages (`/console`, Docs/console.md): server-rendered HTML over the same application layer as the
/// JSON API, so a person in the console can do exactly what their token could do and no more. Every page needs a
/// session (without one it sends the browser to sign in), every state change is a form with the session's CSRF
/// token, and every answer carries the console's security headers.
struct ConsolePages: Sendable {
    let sessions: ConsoleSessions
    let requests: AccessRequests
    let issuance: CredentialIssuance
    let leases: Leases
    let audit: AuditFeed
    let trustedProxies: [CIDR]
    let logger: Logger

    func register(on router: Router<AirlockRequestContext>) {
        router.get("console") { request, context in
            await page(request, context) { try await ask($0, from: sourceIP(request, context)) }
        }
        router.post("console/ask") { request, context in
            await change(request, context, allowed: ["resource_role", "ttl_minutes", "reason", "ticket"]) {
                try await asked($0, $1, request, context)
            }
        }
        router.get("console/requests") { request, context in await page(request, context) { try await mine($0) } }
        router.get("console/requests/:id") { request, context in
            await page(request, context) { try await detail($0, try Self.id(context)) }
        }
        router.post("console/requests/:id/approve") { request, context in
            await change(request, context, allowed: ["comment"]) { try await review($0, $1, context, .approve) }
        }
        router.post("console/requests/:id/deny") { request, context in
            await change(request, context, allowed: ["comment"]) { try await review($0, $1, context, .deny) }
        }
        router.post("console/requests/:id/pickup") { request, context in
            await change(request, context, allowed: []) { viewer, _ in try await pickUp(viewer, request, context) }
        }
        router.post("console/leases/:id/renew") { request, context in
            await change(request, context, allowed: ["ttl_minutes"]) { try await renew($0, $1, context) }
        }
        router.post("console/leases/:id/revoke") { request, context in
            await change(request, context, allowed: []) { viewer, _ in try await revoke(viewer, context) }
        }
        router.get("console/approvals") { request, context in await page(request, context) { try await queue($0) } }
        router.get("console/audit") { request, context in
            await page(request, context) { try await timeline($0, request) }
        }
        router.get("console/admin") { request, context in await page(request, context) { try admin($0) } }
        router.post("console/admin/revoke-all") { request, context in
            await change(request, context, allowed: ["principal"]) { try await revokeAll($0, $1) }
        }
        router.get("console/status.json") { request, _ in await status(request) }
    }

    // MARK: - Sessions, errors

    /// A page for a signed-in viewer; without a session, a redirect to sign in that comes back here.
    func page(
        _ request: Request, _ context: AirlockRequestContext,
        _ body: @Sendable (ConsoleViewer) async throws -> Response
    ) async -> Response {
        do {
            guard let viewer = try await sessions.viewer(request) else {
                return ConsoleHTML.redirect("/console/signin?return_to=" + ConsoleSignIn.formEncode([("", request.uri.path)]).dropFirst())
            }
            do {
                return try await body(viewer)
            } catch {
                return failure(error, viewer: viewer)
            }
        } catch {
            return failure(error, viewer: nil)
        }
    }

    /// A state change: a signed-in viewer (else 401 and a link to sign in), a form of `allowed` fields with the
    /// session's CSRF token, from the console's own origin.
    func change(
        _ request: Request, _ context: AirlockRequestContext, allowed: Set<String>,
        _ body: @Sendable (ConsoleViewer, ConsoleForm) async throws -> Response
    ) async -> Response {
        do {
            guard let viewer = try await sessions.viewer(request) else {
                return ConsoleHTML.response(ConsoleHTML.page(title: "Signed out", viewer: nil, body: """
                    \(ConsoleHTML.notice("Your session has ended: sign in again, then repeat what you were doing."))
                    <p><a href="/console/signin">Sign in</a></p>
                    """), status: .unauthorized)
            }
            do {
                let form = try await ConsoleForm.read(request, allowed: allowed)
                try sessions.checkStateChange(request, form: form, viewer: viewer)
                return try await body(viewer, form)
            } catch {
                return failure(error, viewer: viewer)
            }
        } catch {
            return failure(error, viewer: nil)
        }
    }

    /// An error as a page: the status and message the JSON API would give, or a generic 500 that the log explains.
    func failure(_ error: any Error, viewer: ConsoleViewer?) -> Response {
        let status: HTTPResponse.Status
        let message: String
        switch error {
        case let refusal as ConsoleRefusal: (status, message) = (refusal.status, refusal.message)
        case let broker as BrokerError:
            let api = APIError(broker)
            (status, message) = (api.status, api.message)
        case let api as APIError: (status, message) = (api.status, api.message)
        default:
            logger.error("console page failed", metadata: ["error": "\(String(reflecting: type(of: error)))"])
            (status, message) = (.internalServerError, "Something failed inside the broker; its log says what.")
        }
        let html = ConsoleHTML.page(title: "Not done", viewer: viewer, body: """
            \(ConsoleHTML.notice(message))
            <p><a href="/console/requests">My requests</a> · <a href="/console/approvals">Approvals</a></p>
            """)
        return ConsoleHTML.response(html, status: status)
    }

    static func id(_ context: AirlockRequestContext) throws(ConsoleRefusal) -> UUID {
        guard let text = context.parameters.get("id"), let id = UUID(uuidString: text) else {
            throw ConsoleRefusal(.notFound, "There is no such request or lease.")
        }
        return id
    }

    func sourceIP(_ request: Request, _ context: AirlockRequestContext) -> String? {
        SourceAddress.resolve(
            peer: context.peerAddress, forwardedFor: request.headers[values: .forwardedFor], trustedProxies: trustedProxies)
    }

    // MARK: - Ask

    func ask(_ viewer: ConsoleViewer, from sourceIP: String?, notice: String = "") async throws -> Response {
        let offered = try requests.offered(to: viewer.principal, from: sourceIP)
        let options = offered.map { item in
            let value = ConsoleHTML.escape(item.resource.id + " " + item.role)
            let label = ConsoleHTML.escape("\(item.resource.id) (\(item.resource.env)) — \(item.role)")
                + (item.permittedOutright ? "" : " · needs approval")
            return "<option value=\"\(value)\">\(label)</option>"
        }.joined()
        let form = offered.isEmpty
            ? "<p>The policy grants you nothing today. Ask your team lead which group you need.</p>"
            : """
            <form method="post" action="/console/ask">
            \(ConsoleHTML.csrfField(viewer.csrfToken))
            <label for="resource_role">Resource and role</label>
            <select id="resource_role" name="resource_role" required>\(options)</select>
            <label for="ttl_minutes">For how long (minutes)</label>
            <input id="ttl_minutes" name="ttl_minutes" type="number" min="1" max="43200" value="30" required>
            <label for="reason">Why</label>
            <input id="reason" name="reason" type="text" maxlength="1024" required placeholder="INC-4411 orders stuck">
            <label for="ticket">Ticket (optional)</label>
            <input id="ticket" name="ticket" type="text" maxlength="256">
            <div class="actions"><button type="submit">Ask</button></div>
            </form>
            """
        return ConsoleHTML.response(ConsoleHTML.page(title: "Ask for access", viewer: viewer, current: "/console", body: """
            \(notice)
            <p class="muted">Only what the policy could ever grant you is listed; the decision comes at once.</p>
            \(form)
            """))
    }

    func asked(_ viewer: ConsoleViewer, _ form: ConsoleForm, _ request: Request, _ context: AirlockRequestContext) async throws -> Response {
        guard let choice = form.text("resource_role"), case let parts = choice.split(separator: " "), parts.count == 2 else {
            throw ConsoleRefusal(.unprocessableContent, "Pick a resource and role from the list.")
        }
        guard let minutes = form.text("ttl_minutes").flatMap(Int64.init), (1...43_200).contains(minutes) else {
            throw ConsoleRefusal(.unprocessableContent, "The duration must be a whole number of minutes from 1 to 43200.")
        }
        guard let reason = form.text("reason") else {
            throw ConsoleRefusal(.unprocessableContent, "Say why you need this access.")
        }
        let recorded = try await requests.ask(
            Ask(resource: String(parts[0]), role: String(parts[1]), ttlSeconds: minutes * 60, reason: reason,
                ticket: form.text("ticket"), sourceIP: sourceIP(request, context)),
            by: viewer.principal)
        let what = ConsoleHTML.escape("\(parts[0]) — \(parts[1])")
        let outcome: String
        switch recorded.status {
        case .approved:
            outcome = """
                \(ConsoleHTML.notice("Permitted: \(parts[0]) \(parts[1]) for \(ConsoleHTML.duration(recorded.decision.ttlSeconds ?? minutes * 60)) (rule \(recorded.decision.rules.joined(separator: ", "))).", kind: "ok"))
                \(pickupForm(recorded.id, viewer: viewer))
                """
        case .pendingApproval:
            outcome = ConsoleHTML.notice("Waiting for approval of \(parts[0]) \(parts[1]).", kind: "info")
                + approversList(recorded.approvers)
                + "<p><a href=\"/console/requests\">Follow it in My requests</a> (it updates by itself).</p>"
        default:
            outcome = ConsoleHTML.notice("Denied: \(parts[0]) \(parts[1]).") + explanationList(recorded.explanation)
        }
        return ConsoleHTML.response(ConsoleHTML.page(title: "Decision", viewer: viewer, current: "/console", body: """
            <p>You asked for <strong>\(what)</strong>.</p>
            \(outcome)
            \(riskBlock(recorded.risk))
            """), status: recorded.status == .denied ? .forbidden : .ok)
    }

    func pickupForm(_ id: UUID, viewer: ConsoleViewer, hiddenUnlessApproved: Bool = false) -> String {
        let attributes = hiddenUnlessApproved ? " data-for=\"\(id.uuidString.lowercased())\" data-show-when=\"approved\"" : ""
        return """
            <form method="post" action="/console/requests/\(id.uuidString.lowercased())/pickup"\(attributes)>\
            \(ConsoleHTML.csrfField(viewer.csrfToken))<button type="submit">Pick up the credential (shown once)</button></form>
            """
    }

    func approversList(_ roster: ApproverRoster?) -> String {
        guard let roster else { return "" }
        let items = roster.progress.map { progress in
            let requirements = progress.requirements.map { requirement -> String in
                let who: String
                switch requirement.requirement.approvers {
                case .group(let group): who = "\(requirement.requirement.count) of group \(group)"
                case .user(let id): who = id
                }
                let done = requirement.assigned.isEmpty ? "" : " (approved: \(requirement.assigned.joined(separator: ", ")))"
                return ConsoleHTML.escape(who + done)
            }.joined(separator: "; ")
            return "<li>Rule <strong>\(ConsoleHTML.escape(progress.rule))</strong>: \(requirements)</li>"
        }.joined()
        return "<h2>Who must approve</h2><ul>\(items)</ul>"
    }

    func explanationList(_ explanation: Explanation?) -> String {
        guard let explanation else { return "" }
        let items = explanation.rules.map { rule -> String in
            var text = "\(rule.rule) (\(rule.effect.rawValue)): \(rule.applied ? "applied" : "did not apply")"
            if let failure = rule.failure {
                let observed = failure.observed.map(\.description).joined(separator: ", ")
                text += failure.error.map { "; error: \($0)" } ?? "; needs \(failure.expression)"
                if !observed.isEmpty { text += "; yours: \(observed)" }
            }
            return "<li>\(ConsoleHTML.escape(text))</li>"
        }.joined()
        return "<h2>Why</h2><ul>\(items)</ul>"
    }

    func riskBlock(_ risk: RiskAssessment) -> String {
        let signals = risk.signals.map { "<li>\(ConsoleHTML.escape("\($0.name) (+\($0.weight)): \($0.detail)"))</li>" }.joined()
        return "<p>Risk score <strong>\(risk.score)</strong> of 100.</p>" + (signals.isEmpty ? "" : "<ul>\(signals)</ul>")
    }

    // MARK: - My requests and leases

    /// The viewer's latest 50 requests and their own leases (up to 100): what *My requests* shows and its status
    /// poll refreshes.
    func holdings(of viewer: ConsoleViewer) async throws -> (requests: [AccessRequestRecord], leases: [LeaseRecord]) {
        let recent = try await requests.store.recent(of: viewer.principal.id, limit: 50)
        let owned = try await leases.list(for: viewer.principal, limit: 100).items
            .filter { viewer.principal.owns($0.principalID) }
        return (recent, owned)
    }

    func mine(_ viewer: ConsoleViewer, notice: String = "") async throws -> Response {
        let (recent, owned) = try await holdings(of: viewer)
        let rows = recent.map { record -> String in
            let id = record.id.uuidString.lowercased()
            var actions = ""
            if record.status == .approved || record.status == .pendingApproval {
                actions = pickupForm(record.id, viewer: viewer, hiddenUnlessApproved: true)
            }
            return """
                <tr><td><a href="/console/requests/\(id)">\(ConsoleHTML.escape(record.resourceID))</a></td>\
                <td>\(ConsoleHTML.escape(record.role))</td><td>\(ConsoleHTML.duration(Int64(record.grantedTTLSeconds ?? record.ttlSeconds)))</td>\
                <td data-request-status="\(id)">\(record.status.rawValue)</td><td>\(ConsoleHTML.time(record.createdAt))</td>\
                <td>\(actions)</td></tr>
                """
        }.joined()
        let leaseRows = owned.map { lease -> String in
            let id = lease.id.uuidString.lowercased()
            let live = lease.status == .active
            let actions = live ? """
                <form method="post" action="/console/leases/\(id)/renew" data-for="\(id)" data-show-when="active">\
                \(ConsoleHTML.csrfField(viewer.csrfToken))<label for="renew-\(id)">Renew for (minutes)</label>\
                <input id="renew-\(id)" name="ttl_minutes" type="number" min="1" max="43200" value="30"> \
                <button type="submit">Renew</button></form>\
                <form method="post" action="/console/leases/\(id)/revoke" data-for="\(id)" data-show-when="active">\
                \(ConsoleHTML.csrfField(viewer.csrfToken))<button type="submit">Revoke now</button></form>
                """ : ""
            return """
                <tr><td>\(ConsoleHTML.escape(lease.resourceID))</td><td>\(ConsoleHTML.escape(lease.role))</td>\
                <td>\(ConsoleHTML.escape(lease.username ?? "token"))</td>\
                <td data-lease-status="\(id)">\(lease.status.rawValue)</td><td>\(ConsoleHTML.time(lease.expiresAt))</td>\
                <td>\(actions)</td></tr>
                """
        }.joined()
        return ConsoleHTML.response(ConsoleHTML.page(title: "My requests and leases", viewer: viewer, current: "/console/requests", body: """
            \(notice)
            <div data-live>
            <table><caption>Requests (newest first; statuses update by themselves)</caption>
            <thead><tr><th scope="col">Resource</th><th scope="col">Role</th><th scope="col">For</th>\
            <th scope="col">Status</th><th scope="col">Asked</th><th scope="col">Action</th></tr></thead>
            <tbody aria-live="polite">\(rows.isEmpty ? "<tr><td colspan=\"6\">No requests yet.</td></tr>" : rows)</tbody></table>
            <table><caption>Leases</caption>
            <thead><tr><th scope="col">Resource</th><th scope="col">Role</th><th scope="col">Login</th>\
            <th scope="col">Status</th><th scope="col">Ends</th><th scope="col">Action</th></tr></thead>
            <tbody aria-live="polite">\(leaseRows.isEmpty ? "<tr><td colspan=\"6\">No leases.</td></tr>" : leaseRows)</tbody></table>
            </div>
            """))
    }

    /// `GET /console/status.json`: the viewer's latest requests' and leases' statuses, for the live pages.
    func status(_ request: Request) async -> Response {
        var headers = ConsoleHeaders.security
        headers[.contentType] = "application/json"
        do {
            guard let viewer = try await sessions.viewer(request) else {
                return Response(status: .unauthorized, headers: headers, body: .init(byteBuffer: ByteBuffer(string: "{}")))
            }
            let (recent, owned) = try await holdings(of: viewer)
            let body = JSONValue.object([
                "requests": .object(Dictionary(uniqueKeysWithValues: recent.map {
                    ($0.id.uuidString.lowercased(), JSONValue.string($0.status.rawValue))
                })),
                "leases": .object(Dictionary(uniqueKeysWithValues: owned.map {
                    ($0.id.uuidString.lowercased(), JSONValue.string($0.status.rawValue))
                })),
            ])
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: body.canonicalString())))
        } catch {
            logger.error("console status failed", metadata: ["error": "\(String(reflecting: type(of: error)))"])
            return Response(status: .internalServerError, headers: headers, body: .init(byteBuffer: ByteBuffer(string: "{}")))
        }
    }

    /// `POST /console/requests/{id}/pickup`: the credential, once, on a page no cache keeps; its script removes
    /// the text when the page is left.
    func pickUp(_ viewer: ConsoleViewer, _ request: Request, _ context: AirlockRequestContext) async throws -> Response {
        let issued = try await issuance.pickUp(try Self.id(context), by: viewer.principal, sourceIP: sourceIP(request, context))
        let fields = issued.credential.secretFields.sorted { $0.key < $1.key }
        let rows = fields.enumerated().map { index, field -> String in
            let text: String
            switch field.value {
            case .string(let value): text = value
            case .int(let value): text = String(value)
            default: text = field.value.canonicalString()
            }
            return """
                <dt>\(ConsoleHTML.escape(field.key))</dt><dd><code class="secret" id="secret-\(index)" data-secret>\
                \(ConsoleHTML.escape(text))</code> <button type="button" data-copy="secret-\(index)">Copy</button></dd>
                """
        }.joined()
        return ConsoleHTML.response(ConsoleHTML.page(title: "Your credential", viewer: viewer, current: "/console/requests", body: """
            \(ConsoleHTML.notice("Shown once: copy it now. It is not stored in this page's history, and picking it up again is refused.", kind: "info"))
            <dl>\(rows)<dt>expires</dt><dd>\(ConsoleHTML.time(issued.credential.expiresAt))</dd></dl>
            <p><a href="/console/requests">Done</a></p>
            """))
    }

    func renew(_ viewer: ConsoleViewer, _ form: ConsoleForm, _ context: AirlockRequestContext) async throws -> Response {
        guard let minutes = form.text("ttl_minutes").flatMap(Int64.init), (1...43_200).contains(minutes) else {
            throw ConsoleRefusal(.unprocessableContent, "The duration must be a whole number of minutes from 1 to 43200.")
        }
        let lease = try await leases.renew(try Self.id(context), by: viewer.principal, ttlSeconds: minutes * 60)
        return try await mine(viewer, notice: ConsoleHTML.notice(
            "Renewed \(lease.resourceID) \(lease.role) until \(lease.expiresAt.ISO8601Format()).", kind: "ok"))
    }

    func revoke(_ viewer: ConsoleViewer, _ context: AirlockRequestContext) async throws -> Response {
        let lease = try await leases.revoke(try Self.id(context), by: viewer.principal)
        return try await mine(viewer, notice: ConsoleHTML.notice(
            "\(lease.resourceID) \(lease.role): \(lease.status.rawValue).", kind: "ok"))
    }

    // MARK: - Approvals

    func queue(_ viewer: ConsoleViewer, notice: String = "") async throws -> Response {
        let page = try await requests.list(for: viewer.principal, status: .pendingApproval, mine: false, after: nil)
        let cards = page.items.map { card($0, viewer: viewer) }.joined()
        return ConsoleHTML.response(ConsoleHTML.page(title: "Approvals", viewer: viewer, current: "/console/approvals", body: """
            \(notice)
            <p class="muted">Requests your approval would count toward, oldest first.</p>
            <section aria-label="Requests waiting for you">\(cards.isEmpty ? "<p>Nothing waits for you.</p>" : cards)</section>
            """))
    }

    /// One request as an approver sees it: who, what, how long, why, the rule, who approved, and the context.
    func card(_ view: RequestView, viewer: ConsoleViewer) -> String {
        let record = view.record
        let id = record.id.uuidString.lowercased()
        let reviews = record.reviews.map {
            ConsoleHTML.escape("\($0.reviewer) \($0.verdict.rawValue)d" + ($0.comment.isEmpty ? "" : ": “\($0.comment)”"))
        }.joined(separator: "<br>")
        var context = ""
        if let approver = view.context {
            let uses = approver.lastUses.map { "\($0.role) at \($0.at.ISO8601Format())" }.joined(separator: ", ")
            context = """
                <dt>Peers with this access</dt><dd>\(approver.peersWithAccess) of \(approver.peers)</dd>\
                <dt>Recent uses</dt><dd>\(approver.firstUse ? "first use of this resource" : ConsoleHTML.escape(uses))</dd>
                """
        }
        let signals = record.risk.signals.map { ConsoleHTML.escape("\($0.name): \($0.detail)") }.joined(separator: "<br>")
        let decisionForm: String
        if viewer.principal.owns(record.principalID) {
            decisionForm = "<p class=\"muted\">You asked for this: someone else must approve it.</p>"
        } else {
            let reauthentication = requests.freshMFARefusal(resourceID: record.resourceID, approver: viewer.principal)
                .map { Self.reauthenticationPrompt($0, returnTo: "/console/approvals") } ?? ""
            decisionForm = reauthentication + """
                <form method="post" action="/console/requests/\(id)/approve">\(ConsoleHTML.csrfField(viewer.csrfToken))
                <label for="comment-\(id)">Comment</label>
                <textarea id="comment-\(id)" name="comment" rows="2" maxlength="1024"></textarea>
                <div class="actions"><button type="submit">Approve</button>\
                <button type="submit" formaction="/console/requests/\(id)/deny">Deny</button></div>
                </form>
                """
        }
        return """
            <article class="card" aria-labelledby="title-\(id)">
            <h2 id="title-\(id)">\(ConsoleHTML.escape(record.principalID)) asks for \(ConsoleHTML.escape(record.resourceID)) \
            \(ConsoleHTML.escape(record.role))</h2>
            <dl><dt>For</dt><dd>\(ConsoleHTML.duration(Int64(record.ttlSeconds)))</dd>\
            <dt>Why</dt><dd>\(ConsoleHTML.escape(record.reason))</dd>\
            <dt>Ticket</dt><dd>\(ConsoleHTML.escape(record.ticket ?? "—"))</dd>\
            <dt>Rule</dt><dd>\(ConsoleHTML.escape(record.decision.approvals.map(\.rule).joined(separator: ", ")))</dd>\
            <dt>Approved so far</dt><dd>\(reviews.isEmpty ? "nobody" : reviews)</dd>\
            <dt>Risk</dt><dd>score \(record.risk.score)\(signals.isEmpty ? "" : "<br>" + signals)</dd>\(context)\
            <dt>Asked</dt><dd>\(ConsoleHTML.time(record.createdAt))</dd></dl>
            \(approversList(view.approvers))
            \(decisionForm)
            </article>
            """
    }

    func detail(_ viewer: ConsoleViewer, _ id: UUID) async throws -> Response {
        let view = try await requests.show(id, to: viewer.principal)
        let body: String
        if view.record.status == .pendingApproval {
            body = card(view, viewer: viewer)
        } else {
            body = """
                <article class="card"><dl><dt>Who</dt><dd>\(ConsoleHTML.escape(view.record.principalID))</dd>\
                <dt>What</dt><dd>\(ConsoleHTML.escape(view.record.resourceID + " " + view.record.role))</dd>\
                <dt>Status</dt><dd>\(view.record.status.rawValue)</dd>\
                <dt>Why</dt><dd>\(ConsoleHTML.escape(view.record.reason))</dd>\
                <dt>Reviews</dt><dd>\(view.record.reviews.map { ConsoleHTML.escape("\($0.reviewer) \($0.verdict.rawValue)d") }.joined(separator: "<br>"))</dd></dl>
                \(view.record.status == .approved && viewer.principal.owns(view.record.principalID) ? pickupForm(id, viewer: viewer) : "")
                </article>
                """
        }
        return ConsoleHTML.response(ConsoleHTML.page(title: "Request", viewer: viewer, current: "", body: body))
    }

    /// The notice that an approval needs a second factor proven again, with the way to prove it: a sign-in that asks
    /// the identity provider to authenticate the person now (`fresh=1`), coming back to `returnTo`.
    static func reauthenticationPrompt(_ refusal: BrokerError, returnTo: String) -> String {
        let signIn = "/console/signin?fresh=1&return_to=" + ConsoleSignIn.formEncode([("", returnTo)]).dropFirst()
        return ConsoleHTML.notice(refusal.message.prefix(1).uppercased() + refusal.message.dropFirst() + ".", kind: "info")
            + "<p><a class=\"reauthenticate\" href=\"\(ConsoleHTML.escape(signIn))\">Sign in again with your second factor</a></p>"
    }

    func review(
        _ viewer: ConsoleViewer, _ form: ConsoleForm, _ context: AirlockRequestContext, _ verdict: AccessRequestState.Verdict
    ) async throws -> Response {
        let comment = form.fields["comment"]?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
        let id = try Self.id(context)
        let view: RequestView
        do {
            view = try await requests.review(id, by: viewer.principal, verdict: verdict, comment: comment)
        } catch let refusal as BrokerError {
            guard case .freshMFARequired = refusal else { throw refusal }
            let html = ConsoleHTML.page(title: "Prove your second factor", viewer: viewer, current: "/console/approvals",
                body: Self.reauthenticationPrompt(refusal, returnTo: "/console/approvals"))
            return ConsoleHTML.response(html, status: .forbidden)
        }
        let record = view.record
        return try await queue(viewer, notice: ConsoleHTML.notice(
            "You \(verdict == .approve ? "approved" : "denied") \(record.principalID)'s request for \(record.resourceID) \(record.role); it is now \(record.status.rawValue).",
            kind: "ok"))
    }

    // MARK: - Audit and admin

    /// An audit event type as a search filter: letters, digits, `.`, `_` and `-`, at most 128 bytes.
    static func isEventType(_ text: String) -> Bool {
        guard !text.isEmpty, text.utf8.count <= 128 else { return false }
        return text.utf8.allSatisfy { byte in
            let isDigit = (0x30...0x39).contains(byte)
            let isLetter = (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte)
            return isDigit || isLetter || byte == 0x2E || byte == 0x5F || byte == 0x2D
        }
    }

    func timeline(_ viewer: ConsoleViewer, _ request: Request) async throws -> Response {
        guard viewer.isAuditor || viewer.isAdmin else {
            throw ConsoleRefusal(.forbidden, "The audit log is for auditors and admins.")
        }
        let query = request.uri.queryParameters
        let text = query.get("q").map { String($0.prefix(200)) }.flatMap { $0.isEmpty ? nil : $0 }
        let type = query.get("type").map { String($0) }.flatMap { Self.isEventType($0) ? $0 : nil }
        let before = query.get("before").flatMap { Int64($0) }
        let events = try await audit.search(text: text, type: type, before: before, limit: 100)
        let rows = events.map { event -> String in
            let data = event["data"]?.canonicalString() ?? ""
            let shown = data.count > 400 ? String(data.prefix(400)) + "…" : data
            return """
                <tr><td>\(event["sequence"]?.intValue ?? 0)</td><td>\(ConsoleHTML.escape(event["time"]?.stringValue ?? ""))</td>\
                <td>\(ConsoleHTML.escape(event["type"]?.stringValue ?? ""))</td>\
                <td>\(ConsoleHTML.escape(event["subject"]?.stringValue ?? ""))</td>\
                <td><code>\(ConsoleHTML.escape(shown))</code></td></tr>
                """
        }.joined()
        let next = events.last?["sequence"]?.intValue.map { sequence in
            var parameters = [("before", String(sequence))]
            if let text { parameters.append(("q", text)) }
            if let type { parameters.append(("type", type)) }
            return "<p><a href=\"/console/audit?\(ConsoleHTML.escape(ConsoleSignIn.formEncode(parameters)))\">Older events</a></p>"
        } ?? ""
        return ConsoleHTML.response(ConsoleHTML.page(title: "Audit timeline", viewer: viewer, current: "/console/audit", body: """
            <form method="get" action="/console/audit" role="search">
            <label for="q">Search (a principal, a resource, a request id…)</label>
            <input id="q" name="q" type="search" value="\(ConsoleHTML.escape(text ?? ""))">
            <label for="type">Event type (exact, or a prefix ending in a dot)</label>
            <input id="type" name="type" type="text" value="\(ConsoleHTML.escape(type ?? ""))" placeholder="airlock.credential.">
            <div class="actions"><button type="submit">Search</button></div>
            </form>
            <table><caption>Chained events, newest first</caption>
            <thead><tr><th scope="col">Seq</th><th scope="col">Time</th><th scope="col">Type</th><th scope="col">Subject</th>\
            <th scope="col">Data</th></tr></thead>
            <tbody>\(rows.isEmpty ? "<tr><td colspan=\"5\">No events match.</td></tr>" : rows)</tbody></table>
            \(next)
            """))
    }

    func admin(_ viewer: ConsoleViewer, notice: String = "") throws -> Response {
        guard viewer.isAdmin else { throw ConsoleRefusal(.forbidden, "This page is for admins.") }
        return ConsoleHTML.response(ConsoleHTML.page(title: "Admin", viewer: viewer, current: "/console/admin", body: """
            \(notice)
            <h2>Revoke all access of a principal</h2>
            <p>Every active lease of the principal ends now, and their pending and approved requests close.</p>
            <form method="post" action="/console/admin/revoke-all">\(ConsoleHTML.csrfField(viewer.csrfToken))
            <label for="principal">Principal id</label>
            <input id="principal" name="principal" type="text" required maxlength="256">
            <div class="actions"><button type="submit">Revoke all</button></div>
            </form>
            """))
    }

    func revokeAll(_ viewer: ConsoleViewer, _ form: ConsoleForm) async throws -> Response {
        guard viewer.isAdmin else { throw ConsoleRefusal(.forbidden, "This page is for admins.") }
        guard let principal = form.text("principal") else {
            throw ConsoleRefusal(.unprocessableContent, "Name the principal whose access ends.")
        }
        let outcome = try await leases.revokeAll(of: principal, by: viewer.principal)
        return try admin(viewer, notice: ConsoleHTML.notice(
            "\(outcome.principal): \(outcome.leases.count) lease(s) ended, \(outcome.closedRequests.count) request(s) closed.",
            kind: "ok"))
    }
}
