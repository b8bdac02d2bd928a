import Foundation
import AirlockPolicy

/// `request.source_ip`: the TCP peer, unless the peer is a configured trusted proxy; then the nearest
/// `X-Forwarded-For` address (walking from the right) that is not itself a trusted proxy. An untrusted peer's
/// `X-Forwarded-For` is ignored, so a client cannot claim another address.
enum SourceAddress {
    static func resolve(peer: String?, forwardedFor: [String], trustedProxies: [CIDR]) -> String? {
        guard let peer, let peerAddress = IPAddress(peer) else { return nil }
        func trusted(_ address: IPAddress) -> Bool { trustedProxies.contains { $0.contains(address) } }
        guard trusted(peerAddress) else { return peerAddress.description }
        let hops = forwardedFor.flatMap { $0.split(separator: ",") }
            .map { $0.trimmingCharacters(in: .whitespaces) }
        for hop in hops.reversed() {
            guard let address = IPAddress(hop) else { return peerAddress.description }
            if !trusted(address) { return address.description }
        }
        return peerAddress.description
    }
}
