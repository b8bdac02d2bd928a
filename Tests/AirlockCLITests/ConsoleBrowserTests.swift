import AirlockTestSupport
import Foundation
import Logging
import Testing

/// The approver console in a real browser (Debian's headless Chromium) against a real `airlock dev`: the whole day
/// of its users, each step's page written as a screenshot to `.build/console-screenshots/`.
@Suite(.serialized, .enabled(if: HeadlessBrowser.executable() != nil, "needs Debian's chromium (`.ci/run` installs it)"))
struct ConsoleBrowserTests {
    /// Where the screenshots go: `.build/console-screenshots` of this package.
    static let screenshots: String = {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let directory = root.appendingPathComponent(".build/console-screenshots").path
        try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        return directory
    }()

    /// Signs `user` in through the dev sign-in page and waits for the console's *Ask* page.
    static func signIn(_ page: BrowserPage, _ dev: DevBroker, _ user: String, groups: String, shot: String? = nil) async throws {
        try await page.navigate(dev.address + "/console")
        try await page.waitFor("document.querySelector('#user') !== null")
        if let shot { try await page.screenshot(to: "\(screenshots)/\(shot).png") }
        try await page.fill("#user", user)
        try await page.fill("#groups", groups)
        try await page.clickAndWaitForNavigation("form button[type=submit]")
        try await page.waitFor("location.pathname === '/console' && document.querySelector('h1') !== null")
    }

    static func signOut(_ page: BrowserPage) async throws {
        try await page.clickAndWaitForNavigation("form.signout button")
        try await page.waitFor("document.body.textContent.includes('You are signed out')")
    }

    /// Asks for `choice` ("resource role") on the *Ask* page.
    static func ask(_ page: BrowserPage, _ choice: String, minutes: Int, reason: String) async throws {
        try await page.navigate(try await page.url().components(separatedBy: "/console")[0] + "/console")
        try await page.waitFor("document.querySelector('#resource_role') !== null")
        try await page.fill("#resource_role", choice)
        try await page.fill("#ttl_minutes", String(minutes))
        try await page.fill("#reason", reason)
        try await page.clickAndWaitForNavigation("form[action='/console/ask'] button[type=submit]")
    }

    @Test("a day in the console: alice reads staging at once; bob asks to write production; carol and dave approve in the page, erin from the CLI while bob watches; bob picks up once; an admin revokes bob; an auditor finds it all",
          .timeLimit(.minutes(6)))
    func aDayInTheConsole() async throws {
        let dev = try await DevBroker.start()
        defer { dev.stop() }
        try await HeadlessBrowser.withBrowser(logger: Logger(label: "airlock.test.browser")) { browser in
            let page = try await browser.newPage()

            // alice (sre) signs in and reads staging: permitted at once, picked up once.
            try await Self.signIn(page, dev, "alice", groups: "sre", shot: "01-sign-in")
            try await page.screenshot(to: "\(Self.screenshots)/02-ask.png")
            // Keyboard only: the first Tab reaches the skip link, and Tab reaches the resource list.
            try await page.press("Tab")
            #expect(try await page.evaluate("document.activeElement.className").string == "skip")
            var reached = false
            for _ in 0..<20 where !reached {
                try await page.press("Tab")
                reached = try await page.evaluate("document.activeElement.id").string == "resource_role"
            }
            #expect(reached, "Tab never reached the resource list")
            try await Self.ask(page, "orders-staging readonly", minutes: 30, reason: "check the orders job")
            #expect(try await page.html().contains("Permitted"))
            try await page.screenshot(to: "\(Self.screenshots)/03-decision.png")
            try await page.clickAndWaitForNavigation("form[action$='/pickup'] button")
            let alicePassword = try await page.evaluate(
                "Array.from(document.querySelectorAll('dt')).find(d => d.textContent === 'password').nextElementSibling.querySelector('code').textContent"
            ).string ?? ""
            #expect(alicePassword.count >= 20)
            #expect(try await page.html().contains("data-copy"))
            try await page.screenshot(to: "\(Self.screenshots)/04-credential.png")
            try await page.clickAndWaitForNavigation("main a[href='/console/requests']")
            #expect(!(try await page.html().contains(alicePassword)))
            try await page.goBack()
            #expect(!(try await page.html().contains(alicePassword)), "the credential came back with the back button")
            try await page.navigate(dev.address + "/console/requests")
            try await Self.signOut(page)

            // bob (backend, and a db-owner himself) asks to write production: two db-owners and security must agree.
            try await Self.signIn(page, dev, "bob", groups: "backend,db-owners")
            try await Self.ask(page, "orders-db readwrite", minutes: 20, reason: "fix order 42")
            #expect(try await page.html().contains("Waiting for approval"))
            try await page.screenshot(to: "\(Self.screenshots)/05-pending.png")
            try await page.navigate(dev.address + "/console/requests")
            let requestPath = try await page.evaluate(
                "document.querySelector('a[href^=\"/console/requests/\"]').getAttribute('href')").string ?? ""
            #expect(requestPath.count == "/console/requests/".count + 36)
            // His own queue does not offer it, and its page says someone else must approve it.
            try await page.navigate(dev.address + "/console/approvals")
            #expect(!(try await page.html().contains(requestPath + "/approve")))
            try await page.navigate(dev.address + requestPath)
            #expect(try await page.html().contains("someone else must approve it"))
            try await Self.signOut(page)

            // carol and dave (db-owners) approve from the queue, with the context in front of them.
            for (approver, number) in [("carol", "06"), ("dave", "07")] {
                try await Self.signIn(page, dev, approver, groups: "db-owners")
                try await page.navigate(dev.address + "/console/approvals")
                try await page.waitFor("document.querySelector('form[action=\"\(requestPath)/approve\"]') !== null")
                #expect(try await page.html().contains("Peers with this access"))
                try await page.screenshot(to: "\(Self.screenshots)/\(number)-approvals-\(approver).png")
                try await page.fill("form[action=\"\(requestPath)/approve\"] textarea", "ok from \(approver)")
                try await page.clickAndWaitForNavigation("form[action=\"\(requestPath)/approve\"] button[type=submit]")
                #expect(try await page.html().contains("You approved"))
                try await Self.signOut(page)
            }

            // bob watches his requests; erin (security) approves from the CLI; the page changes by itself.
            try await Self.signIn(page, dev, "bob", groups: "backend,db-owners")
            try await page.navigate(dev.address + "/console/requests")
            let id = String(requestPath.dropFirst("/console/requests/".count))
            #expect(try await page.evaluate("document.querySelector('[data-request-status=\"\(id)\"]').textContent").string
                    == "pending_approval")
            let erin = dev.environment.merging(["AIRLOCK_HOME": ClientCommandTests.home()]) { $1 }
            defer { try? FileManager.default.removeItem(atPath: erin["AIRLOCK_HOME"]!) }
            let login = try await AirlockBinary.run(["login", "--dev", "erin", "--groups", "security", "--mfa"], environment: erin)
            #expect(login.status == 0, "\(login.errors)")
            let approve = try await AirlockBinary.run(["approve", id, "--comment", "security ok"], environment: erin)
            #expect(approve.status == 0, "\(approve.output)\(approve.errors)")
            try await page.waitFor(
                "document.querySelector('[data-request-status=\"\(id)\"]').textContent === 'approved' && "
                    + "!document.querySelector('form[data-for=\"\(id)\"]').hidden", timeout: .seconds(15))
            try await page.screenshot(to: "\(Self.screenshots)/08-my-requests-live.png")
            try await page.clickAndWaitForNavigation("form[data-for=\"\(id)\"] button")
            let bobPassword = try await page.evaluate(
                "Array.from(document.querySelectorAll('dt')).find(d => d.textContent === 'password').nextElementSibling.querySelector('code').textContent"
            ).string ?? ""
            #expect(bobPassword.count >= 20)
            try await page.clickAndWaitForNavigation("main a[href='/console/requests']")
            #expect(!(try await page.html().contains(bobPassword)))
            // Once: the request is issued now, and nothing offers it again.
            #expect(try await page.evaluate("document.querySelector('form[data-for=\"\(id)\"]') === null").bool == true)
            try await page.goBack()
            #expect(!(try await page.html().contains(bobPassword)), "the credential came back with the back button")
            try await page.navigate(dev.address + "/console/requests")
            try await Self.signOut(page)

            // An admin revokes all of bob's access.
            try await Self.signIn(page, dev, "root", groups: "airlock-admins")
            try await page.navigate(dev.address + "/console/admin")
            try await page.fill("#principal", "bob")
            try await page.clickAndWaitForNavigation("form[action='/console/admin/revoke-all'] button")
            #expect(try await page.html().contains("bob: 1 lease(s) ended"))
            try await page.screenshot(to: "\(Self.screenshots)/09-admin.png")
            try await Self.signOut(page)

            // An auditor finds it all in the timeline.
            try await Self.signIn(page, dev, "ada", groups: "auditors")
            try await page.navigate(dev.address + "/console/audit?q=bob")
            let timeline = try await page.html()
            for type in ["airlock.access.requested", "airlock.access.reviewed", "airlock.access.approved",
                         "airlock.credential.issued", "airlock.credential.revoked"] {
                #expect(timeline.contains(type), "\(type) not in the timeline")
            }
            try await page.screenshot(to: "\(Self.screenshots)/10-audit.png")
            #expect(!timeline.contains(bobPassword) && !timeline.contains(alicePassword))

            // No page needed anything the Content-Security-Policy refuses.
            let messages = await page.consoleMessages()
            #expect(!messages.contains { $0.contains("Content Security Policy") }, "\(messages)")
        }
    }
}
