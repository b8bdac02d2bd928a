import Foundation
import AirlockPolicy

/// `request.source_ip`: the TCP peer, unless the peer is a configured trusted proxy; then the nearest
/// `X-Forwarded-For` address (walking from the right) that is not itself a trusted proxy. An untrusted peer's
/// `X-Forwarded-For` is ignored, so a client cannot claim another address.
///
/// Behind a trusted proxy the answer fails closed: no `X-Forwarded-For`, or a hop on the way that is not a bare IP
/// address (`ip:port`, `unknown`, an obfuscated identifier, an empty element) gives no source address at all (the
/// attribute is absent, so a rule that needs it does not apply), never the proxy's own address. When every hop is a
/// trusted proxy, the answer is the leftmost hop: the origin the first proxy reported.
enum SourceAddress {
    static func resolve(peer: String?, forwardedFor: [String], trustedProxies: [CIDR]) -> String? {
        guard let peer, let peerAddress = IPAddress(peer) else { return nil }
        func trusted(_ address: IPAddress) -> Bool { trustedProxies.contains { $0.contains(address) } }
        guard trusted(peerAddress) else { return peerAddress.description }
        let hops = forwardedFor.flatMap { $0.split(separator: ",", omittingEmptySubsequences: false) }
            .map { $0.trimmingCharacters(in: .whitespaces) }
        guard !hops.isEmpty else { return nil }
        var origin: IPAddress?
        for hop in hops.reversed() {
            guard let address = IPAddress(hop) else { return nil }
            if !trusted(address) { return address.description }
            origin = address
        }
        return origin?.description
    }

    /// The key a per-address rate limit counts under: the source address (an IPv6 address by its /64, the
    /// smallest network one party usually holds), else the TCP peer; nil without either.
    static func rateLimitKey(peer: String?, forwardedFor: [String], trustedProxies: [CIDR]) -> String? {
        let text = resolve(peer: peer, forwardedFor: forwardedFor, trustedProxies: trustedProxies) ?? peer
        guard let text, let address = IPAddress(text) else { return peer }
        switch address {
        case .v4: return address.description
        case .v6(let high, _): return IPAddress.v6(high: high, low: 0).description + "/64"
        }
    }
}
