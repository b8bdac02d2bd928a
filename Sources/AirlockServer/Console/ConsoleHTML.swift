import AirlockCore
import Foundation
import HTTPTypes
import Hummingbird

/// HTML for the console: every value from outside goes through ``escape(_:)``, so text a requester wrote (a reason,
/// a comment) is shown as text and never becomes markup. Pages are whole documents with no inline script or style
/// (the Content-Security-Policy forbids both); the one script and the one style sheet are served by the broker.
enum ConsoleHTML {
    /// `text` with `&`, `<`, `>`, `"` and `'` escaped, for element content and quoted attribute values alike.
    static func escape(_ text: String) -> String {
        var result = ""
        result.reserveCapacity(text.utf8.count)
        for character in text.unicodeScalars {
            switch character {
            case "&": result += "&amp;"
            case "<": result += "&lt;"
            case ">": result += "&gt;"
            case "\"": result += "&quot;"
            case "'": result += "&#39;"
            default: result.unicodeScalars.append(character)
            }
        }
        return result
    }

    /// The navigation's entries: path, label, and whether the person may see it.
    static func navigation(_ viewer: ConsoleViewer, current: String) -> String {
        var entries: [(String, String)] = [("/console", "Ask"), ("/console/requests", "My requests"),
                                           ("/console/approvals", "Approvals")]
        if viewer.isAuditor || viewer.isAdmin { entries.append(("/console/audit", "Audit")) }
        if viewer.isAdmin { entries.append(("/console/admin", "Admin")) }
        let links = entries.map { path, label in
            path == current
                ? "<li><a href=\"\(path)\" aria-current=\"page\">\(label)</a></li>"
                : "<li><a href=\"\(path)\">\(label)</a></li>"
        }.joined()
        return """
            <nav aria-label="Console"><ul>\(links)</ul></nav>
            <form class="signout" method="post" action="/console/signout">\(csrfField(viewer.csrfToken))\
            <span>Signed in as <strong>\(escape(viewer.principal.id))</strong></span> \
            <button type="submit">Sign out</button></form>
            """
    }

    /// The hidden field every state-changing form carries.
    static func csrfField(_ token: String) -> String {
        "<input type=\"hidden\" name=\"csrf\" value=\"\(escape(token))\">"
    }

    /// A whole page: `title`, the navigation for a signed-in `viewer` (none on the sign-in pages), `body`.
    static func page(title: String, viewer: ConsoleViewer?, current: String = "", body: String) -> String {
        let header = viewer.map { navigation($0, current: current) } ?? ""
        return """
            <!DOCTYPE html>
            <html lang="en">
            <head>
            <meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <meta name="referrer" content="same-origin">
            <title>\(escape(title)) · Airlock</title>
            <link rel="stylesheet" href="/console/assets/console.css">
            <script src="/console/assets/console.js" defer></script>
            </head>
            <body>
            <a class="skip" href="#main">Skip to content</a>
            <header><span class="brand">Airlock</span>\(header)</header>
            <main id="main" tabindex="-1">
            <h1>\(escape(title))</h1>
            \(body)
            </main>
            </body>
            </html>
            """
    }

    /// A notice: `kind` is `error`, `ok` or `info`; errors are announced to screen readers at once.
    static func notice(_ message: String, kind: String = "error") -> String {
        let role = kind == "error" ? "alert" : "status"
        return "<p class=\"notice \(kind)\" role=\"\(role)\">\(escape(message))</p>"
    }

    /// `date` as an ISO 8601 UTC timestamp in a `<time>` element.
    static func time(_ date: Date?) -> String {
        guard let date else { return "—" }
        let text = date.ISO8601Format()
        return "<time datetime=\"\(text)\">\(text.replacingOccurrences(of: "T", with: " "))</time>"
    }

    /// `seconds` as a short duration: `45s`, `30m`, `2h 30m`.
    static func duration(_ seconds: Int64) -> String {
        if seconds < 60 { return "\(seconds)s" }
        if seconds < 3600 { return seconds % 60 == 0 ? "\(seconds / 60)m" : "\(seconds / 60)m \(seconds % 60)s" }
        let hours = seconds / 3600, minutes = (seconds % 3600) / 60
        return minutes == 0 ? "\(hours)h" : "\(hours)h \(minutes)m"
    }

    /// A response holding `html`, with the console's security headers (``ConsoleHeaders``).
    static func response(_ html: String, status: HTTPResponse.Status = .ok, headers extra: HTTPFields = [:]) -> Response {
        var headers = ConsoleHeaders.security
        headers[.contentType] = "text/html; charset=utf-8"
        for field in extra { headers.append(field) }
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: html)))
    }

    /// A `303 See Other` to `location` (after a form), with the security headers.
    static func redirect(_ location: String, headers extra: HTTPFields = [:]) -> Response {
        var headers = ConsoleHeaders.security
        headers[.location] = location
        for field in extra { headers.append(field) }
        return Response(status: .seeOther, headers: headers)
    }
}

/// The headers of every console response: a Content-Security-Policy that allows only the broker's own script and
/// style (no inline script, no framing, forms only to the broker), no caching anywhere (pages show who has which
/// access, and one shows a credential), and no referrer.
enum ConsoleHeaders {
    static let contentSecurityPolicy =
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
        + "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

    static let security: HTTPFields = [
        HTTPField.Name("Content-Security-Policy")!: contentSecurityPolicy,
        .cacheControl: "no-store",
        HTTPField.Name("Pragma")!: "no-cache",
        HTTPField.Name("X-Content-Type-Options")!: "nosniff",
        HTTPField.Name("X-Frame-Options")!: "DENY",
        // Not `no-referrer`: under it a browser sends `Origin: null` with the console's own forms, which the origin
        // check must refuse. `same-origin` sends the console's origin to the console and nothing to anyone else.
        HTTPField.Name("Referrer-Policy")!: "same-origin",
        HTTPField.Name("Cross-Origin-Opener-Policy")!: "same-origin",
        HTTPField.Name("Permissions-Policy")!: "camera=(), microphone=(), geolocation=()",
    ]
}
