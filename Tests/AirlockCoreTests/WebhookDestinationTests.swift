import AirlockCore
import AirlockPolicy
import Testing

/// Webhook URLs and addresses (issue 14, outbound safety): a webhook is a server-side request forgery vector.
@Suite struct WebhookDestinationTests {
    func refusal(_ text: String, _ policy: WebhookAddressPolicy = WebhookAddressPolicy()) -> String? {
        guard let address = IPAddress(text) else {
            Issue.record("not an address: \(text)")
            return nil
        }
        return policy.refusal(for: address)
    }

    @Test("private, loopback, link-local, metadata, shared, multicast and reserved addresses are refused; public ones pass")
    func refusedRanges() {
        for address in [
            "10.0.0.1", "172.16.5.4", "172.31.255.255", "192.168.1.1", "127.0.0.1", "127.8.9.10", "169.254.169.254",
            "100.64.0.1", "0.0.0.0", "224.0.0.1", "255.255.255.255", "198.18.0.1",
            "::1", "::", "fe80::1", "fd00::1", "fc00::2", "ff02::1",
            "::ffff:10.0.0.1", "::ffff:169.254.169.254", "64:ff9b::a9fe:a9fe", "::ffff:127.0.0.1",
        ] {
            #expect(refusal(address) != nil, "\(address) was allowed")
        }
        for address in ["93.184.215.14", "8.8.8.8", "172.32.0.1", "2606:4700:4700::1111", "::ffff:8.8.8.8"] {
            #expect(refusal(address) == nil, "\(address) was refused: \(refusal(address) ?? "")")
        }
        #expect(refusal("169.254.169.254")?.contains("169.254.0.0/16 (link-local (cloud metadata))") == true)
    }

    @Test("an allowed range and development-mode loopback are let through, nothing more")
    func allowances() throws {
        let policy = WebhookAddressPolicy(allowedRanges: [try #require(CIDR("10.20.0.0/16"))], allowsLoopback: true)
        #expect(refusal("10.20.3.4", policy) == nil)
        #expect(refusal("::ffff:10.20.3.4", policy) == nil)
        #expect(refusal("10.21.0.1", policy) != nil)
        #expect(refusal("127.0.0.1", policy) == nil && refusal("::1", policy) == nil)
        #expect(refusal("169.254.169.254", policy) != nil)
    }

    @Test("urls: https only, http to loopback in development mode, no credentials or fragment, a host")
    func urls() throws {
        let https = try WebhookDestination(parsing: "https://Siem.Example.com:8443/in?x=1", allowsLoopbackHTTP: false)
        #expect(https.isHTTPS && https.host == "siem.example.com" && https.port == 8443 && https.literalAddress == nil)
        let v6 = try WebhookDestination(parsing: "https://[2606:4700::1]/hook", allowsLoopbackHTTP: false)
        #expect(v6.literalAddress == IPAddress("2606:4700::1") && v6.port == 443)
        let dev = try WebhookDestination(parsing: "http://127.0.0.1:9000/hook", allowsLoopbackHTTP: true)
        #expect(!dev.isHTTPS && dev.port == 9000)
        _ = try WebhookDestination(parsing: "http://localhost:9000/hook", allowsLoopbackHTTP: true)

        let refused: [(String, Bool, String)] = [
            ("http://127.0.0.1:9000/hook", false, "https"),
            ("http://siem.example.com/hook", true, "loopback"),
            ("https://user:pass@siem.example.com/", false, "credentials"),
            ("https://siem.example.com/#frag", false, "fragment"),
            ("ftp://siem.example.com/", false, "https"),
            ("https:///path", false, "host"),
            ("siem.example.com/hook", false, "url"),
            ("https://siem.example.com/\u{0}", false, "url"),
            ("https://siem.example.com:0/", false, "port"),
            ("", false, "1 to"),
            ("https://e.example/" + String(repeating: "a", count: 2048), false, "1 to"),
        ]
        for (text, loopback, mentions) in refused {
            #expect(throws: WebhookDestinationError.self, "\(text)") {
                try WebhookDestination(parsing: text, allowsLoopbackHTTP: loopback)
            }
            do {
                _ = try WebhookDestination(parsing: text, allowsLoopbackHTTP: loopback)
            } catch {
                #expect(error.message.contains(mentions), "\(text): \(error.message)")
                #expect(!error.message.contains("pass@"), "the error repeats the credentials")
            }
        }
    }
}
