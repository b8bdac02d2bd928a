import HTTPTypes
import Hummingbird

/// The console's one style sheet and one script, served by the broker itself (`/console/assets/…`): nothing is
/// fetched from anywhere else, and the Content-Security-Policy allows scripts and styles from the broker only.
enum ConsoleAssets {
    static func register(on router: Router<AirlockRequestContext>) {
        router.get("console/assets/console.css") { _, _ in asset(css, type: "text/css; charset=utf-8") }
        router.get("console/assets/console.js") { _, _ in asset(script, type: "text/javascript; charset=utf-8") }
    }

    static func asset(_ text: String, type: String) -> Response {
        var headers = ConsoleHeaders.security
        headers[.contentType] = type
        headers[.cacheControl] = "no-cache"
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    /// Live status (polling `/console/status.json` every two seconds while a page shows requests or leases), copy
    /// buttons, and the once-only credential: its text is removed when the page is left, so that a page restored
    /// from the back-forward cache never shows it again.
    static let script = #"""
        "use strict";
        (function () {
          function forgetSecrets() {
            document.querySelectorAll("[data-secret]").forEach(function (element) {
              element.textContent = "(shown once; gone)";
              element.removeAttribute("data-secret");
            });
            document.querySelectorAll("[data-copy]").forEach(function (button) { button.disabled = true; });
          }
          window.addEventListener("pagehide", forgetSecrets);
          window.addEventListener("pageshow", function (event) { if (event.persisted) { forgetSecrets(); } });

          document.addEventListener("click", function (event) {
            var button = event.target.closest ? event.target.closest("button[data-copy]") : null;
            if (!button) { return; }
            var source = document.getElementById(button.getAttribute("data-copy"));
            if (!source || !navigator.clipboard) { return; }
            navigator.clipboard.writeText(source.textContent).then(function () {
              button.textContent = "Copied";
            }, function () {
              button.textContent = "Copy failed: select the text";
            });
          });

          var live = document.querySelector("[data-live]");
          if (!live) { return; }
          function apply(kind, statuses) {
            document.querySelectorAll("[data-" + kind + "-status]").forEach(function (cell) {
              var id = cell.getAttribute("data-" + kind + "-status");
              var status = statuses[id];
              if (status && cell.textContent !== status) { cell.textContent = status; }
              document.querySelectorAll("[data-for=\"" + id + "\"][data-show-when]").forEach(function (element) {
                element.hidden = element.getAttribute("data-show-when").split(" ").indexOf(status || cell.textContent) < 0;
              });
            });
          }
          function poll() {
            fetch("/console/status.json", { credentials: "same-origin", cache: "no-store" })
              .then(function (response) { return response.ok ? response.json() : null; })
              .then(function (body) {
                if (body) { apply("request", body.requests || {}); apply("lease", body.leases || {}); }
              })
              .catch(function () {})
              .then(function () { window.setTimeout(poll, 2000); });
          }
          window.setTimeout(poll, 2000);
        })();
        """#

    static let css = """
        :root { color-scheme: light dark; --accent: #1f5fbf; --muted: #666; --bad: #b3261e; --good: #1b7a3a; }
        body { font: 15px/1.45 system-ui, sans-serif; margin: 0; }
        header { display: flex; flex-wrap: wrap; align-items: center; gap: 1rem; padding: .6rem 1rem;
                 border-bottom: 1px solid #8884; }
        header .brand { font-weight: 700; }
        nav ul { display: flex; gap: .9rem; list-style: none; margin: 0; padding: 0; }
        nav a[aria-current="page"] { font-weight: 700; text-decoration: none; }
        .signout { margin-left: auto; display: flex; gap: .5rem; align-items: center; }
        main { padding: 1rem; max-width: 72rem; }
        h1 { font-size: 1.4rem; margin-top: 0; }
        table { border-collapse: collapse; width: 100%; margin: .5rem 0 1.5rem; }
        caption { text-align: left; font-weight: 600; padding: .3rem 0; }
        th, td { text-align: left; padding: .35rem .5rem; border-bottom: 1px solid #8883; vertical-align: top; }
        td code { overflow-wrap: anywhere; }
        label { display: block; margin: .5rem 0 .15rem; font-weight: 600; }
        input, select, textarea, button { font: inherit; }
        input[type=text], input[type=number], input[type=search], select, textarea { width: min(34rem, 100%);
            padding: .3rem; }
        button { padding: .3rem .8rem; cursor: pointer; }
        :focus-visible { outline: 3px solid var(--accent); outline-offset: 2px; }
        .notice { padding: .5rem .8rem; border-left: 4px solid var(--accent); background: #8881; }
        .notice.error { border-color: var(--bad); }
        .notice.ok { border-color: var(--good); }
        .secret { font-family: ui-monospace, monospace; padding: .2rem .4rem; background: #8882; word-break: break-all; }
        .muted { color: var(--muted); }
        .card { border: 1px solid #8884; border-radius: 6px; padding: .8rem 1rem; margin: 0 0 1rem; }
        .card h2 { font-size: 1.1rem; margin: 0 0 .4rem; }
        dl { display: grid; grid-template-columns: max-content 1fr; gap: .2rem 1rem; margin: .4rem 0; }
        dt { font-weight: 600; }
        dd { margin: 0; }
        .skip { position: absolute; left: -999px; }
        .skip:focus { left: 1rem; top: .5rem; background: Canvas; padding: .3rem; }
        .actions { display: flex; gap: .5rem; margin-top: .5rem; }
        """
}
