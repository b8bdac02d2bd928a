import AirlockCore
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix

/// One keep-alive HTTP/1.1 connection to the broker on loopback, used by one benchmark worker: a lean client,
/// so that the figures measure the broker rather than the client (URLSession on Linux adds milliseconds).
struct BenchIssuanceHTTP {
    /// An answer: status and parsed JSON body.
    struct Reply {
        let status: Int
        let json: JSONValue
    }

    private let outbound: NIOAsyncChannelOutboundWriter<HTTPClientRequestPart>
    private var inbound: NIOAsyncChannelInboundStream<HTTPClientResponsePart>.AsyncIterator
    private let port: Int

    /// Opens a connection to 127.0.0.1:`port`, runs `body` with it, then closes it.
    static func withConnection<Result: Sendable>(
        port: Int, _ body: (inout BenchIssuanceHTTP) async throws -> Result
    ) async throws -> Result {
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelOption(.tcpOption(.tcp_nodelay), value: 1)
            // An address, not a host name: connecting by name runs the resolver (getaddrinfo on a thread of its own),
            // which cost about 6 % of the process's CPU with a new connection per call.
            .connect(to: try SocketAddress(ipAddress: "127.0.0.1", port: port)) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    return try NIOAsyncChannel<HTTPClientResponsePart, HTTPClientRequestPart>(
                        wrappingChannelSynchronously: channel)
                }
            }
        return try await channel.executeThenClose { inbound, outbound in
            var connection = BenchIssuanceHTTP(outbound: outbound, inbound: inbound.makeAsyncIterator(), port: port)
            return try await body(&connection)
        }
    }

    /// Sends one request and reads the whole answer. The token goes only into the `Authorization` header.
    mutating func send(_ method: HTTPMethod, _ path: String, token: String?, body: JSONValue? = nil) async throws -> Reply {
        var headers = HTTPHeaders()
        headers.add(name: "Host", value: "127.0.0.1:\(port)")
        headers.add(name: "Accept", value: "application/json")
        if let token { headers.add(name: "Authorization", value: "Bearer \(token)") }
        let payload = body.map { $0.canonicalData() }
        if let payload {
            headers.add(name: "Content-Type", value: "application/json")
            headers.add(name: "Content-Length", value: "\(payload.count)")
        }
        try await outbound.write(.head(HTTPRequestHead(version: .http1_1, method: method, uri: path, headers: headers)))
        if let payload { try await outbound.write(.body(.byteBuffer(ByteBuffer(bytes: payload)))) }
        try await outbound.write(.end(nil))

        var status = 0
        var collected = ByteBuffer()
        while let part = try await inbound.next() {
            switch part {
            case .head(let head): status = Int(head.status.code)
            case .body(var chunk): collected.writeBuffer(&chunk)
            case .end:
                let bytes = collected.readBytes(length: collected.readableBytes) ?? []
                let json = bytes.isEmpty ? JSONValue.null : ((try? JSONValue.parse(Data(bytes))) ?? .null)
                return Reply(status: status, json: json)
            }
        }
        throw BenchIssuanceError("the broker closed the connection before answering \(method) \(path)")
    }
}

/// A benchmark failure, in one line (never with a secret in it).
struct BenchIssuanceError: Error, CustomStringConvertible {
    let description: String

    init(_ description: String) { self.description = description }
}
