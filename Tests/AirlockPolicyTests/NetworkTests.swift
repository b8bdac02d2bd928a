import Testing

@testable import AirlockPolicy

@Suite("IP addresses and networks")
struct NetworkTests {
    @Test(arguments: [
        ("10.1.2.3", "10.1.2.3"), ("0.0.0.0", "0.0.0.0"), ("::", "::"), ("::1", "::1"),
        ("2001:DB8:0:0:0:0:0:1", "2001:db8::1"), ("fe80::1:0:0:0", "fe80::1:0:0:0"), ("1:0:0:2:0:0:3:4", "1::2:0:0:3:4"), ("1:0:0:2:0:0:0:3", "1:0:0:2::3"),
        ("::ffff:10.1.2.3", "::ffff:a01:203"), ("1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8"), ("1::", "1::"),
    ])
    func parsesAndPrints(text: String, canonical: String) throws {
        #expect(try #require(IPAddress(text)).description == canonical)
    }

    @Test(arguments: ["", "10.1.2", "10.1.2.3.4", "256.1.1.1", "01.1.1.1", "1.1.1.-1", "a.b.c.d", ":::", "1:::2", "1::2::3",
        "12345::", "1:2:3:4:5:6:7:8:9", "1:2:3:4:5:6:7", "::g", "1::2:3:4:5:6:7:8", "fe80::1%eth0", " 10.0.0.1"])
    func rejectsInvalidAddresses(text: String) {
        #expect(IPAddress(text) == nil)
    }

    @Test func cidrMasksHostBitsAndKeepsFamiliesApart() throws {
        let network = try #require(CIDR("10.1.2.3/8"))
        #expect(network.description == "10.0.0.0/8")
        #expect(network.contains(try #require(IPAddress("10.255.0.1"))))
        #expect(!network.contains(try #require(IPAddress("11.0.0.1"))))
        #expect(!network.contains(try #require(IPAddress("::ffff:10.0.0.1"))))
        let v6 = try #require(CIDR("2001:db8:ffff::1/33"))
        #expect(v6.description == "2001:db8:8000::/33")
        #expect(v6.contains(try #require(IPAddress("2001:db8:8000::5"))))
        #expect(!v6.contains(try #require(IPAddress("2001:db8::5"))))
        #expect(try #require(CIDR("::/0")).contains(try #require(IPAddress("::1"))))
        #expect(!(try #require(CIDR("::/0")).contains(try #require(IPAddress("1.2.3.4")))))
        #expect(try #require(CIDR("0.0.0.0/0")).contains(try #require(IPAddress("1.2.3.4"))))
        #expect(try #require(CIDR("1::1/128")).contains(try #require(IPAddress("1::1"))))
        #expect(try #require(CIDR("1::/65")).description == "1::/65")
        for invalid in ["10.0.0.0", "10.0.0.0/33", "::/129", "10.0.0.0/-1", "10.0.0.0/08", "10.0.0.0/", "x/8"] {
            #expect(CIDR(invalid) == nil, "\(invalid)")
        }
    }

    @Test func durationsFormat() {
        #expect(DurationText.format(0) == "0s")
        #expect(DurationText.format(5_400) == "1h30m")
        #expect(DurationText.format(93_784) == "1d2h3m4s")
        #expect(Value.duration(7_200).description == "2h")
    }
}
