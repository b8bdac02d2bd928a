import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// `POLLRDHUP` (Linux), which Glibc does not export to Swift.
private let pollReadHangUp: Int32 = 0x2000

/// A TCP proxy on 127.0.0.1 in front of a real server (a target cluster), for fault tests: it forwards bytes both
/// ways until told to ``Mode/stall`` (every byte is held, so calls hang as on a dead network path, until it
/// forwards again) or to go ``Mode/down`` (open connections are cut and new ones closed at once, as a server that
/// is gone). Plain blocking sockets on threads of its own, so it keeps working whatever the code under test does
/// with its event loops.
public final class FaultProxy: Sendable {
    public enum Mode: Sendable, Equatable {
        case forward, stall, down
    }

    /// The port it listens on, on 127.0.0.1.
    public let port: Int
    private let listener: Int32
    private let state = Mutex(State())

    private struct State {
        var mode = Mode.forward
        var upstreamPort = 0
        var open: Set<Int32> = []
        var closedByClient = 0
        var accepted = 0
        var stopped = false
        var pairs: [Pair] = []
    }

    /// Starts a proxy to `127.0.0.1:upstreamPort` (0: to a port given later by ``forward(toPort:)``; until then
    /// every connection is refused).
    public init(upstreamPort: Int = 0) throws {
        state.withLock { $0.upstreamPort = upstreamPort }
        let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard socket >= 0 else { throw ProxyError("socket: \(errno)") }
        var on: Int32 = 1
        setsockopt(socket, SOL_SOCKET, SO_REUSEADDR, &on, socklen_t(MemoryLayout<Int32>.size))
        var address = Self.loopback(port: 0)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(socket, 128) == 0 else {
            close(socket)
            throw ProxyError("bind/listen: \(errno)")
        }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(socket, $0, &length) }
        }
        self.listener = socket
        self.port = Int(UInt16(bigEndian: address.sin_port))
        let thread = Thread { [self] in acceptLoop() }
        thread.start()
    }

    /// Where new connections go from now on: `127.0.0.1:port`.
    public func forward(toPort port: Int) {
        state.withLock { $0.upstreamPort = port }
    }

    /// What it does with traffic from now on. `down` also cuts every open connection.
    public func set(_ mode: Mode) {
        let cut = state.withLock { state -> Set<Int32> in
            state.mode = mode
            return mode == .down ? state.open : []
        }
        for socket in cut { shutdown(socket, Int32(SHUT_RDWR)) }
    }

    /// Holds every byte of the connections open now, for good, while new connections are forwarded: a call stuck
    /// on a dead path while the target itself is fine.
    public func stallOpenConnections() {
        let pairs = state.withLock { state -> [Pair] in
            defer { state.pairs = [] }
            return state.pairs
        }
        for pair in pairs { pair.stall() }
    }

    /// How many connections the client side closed (the broker gave up on a call and closed its connection).
    public var connectionsClosedByClient: Int { state.withLock { $0.closedByClient } }

    /// How many connections it accepted so far.
    public var connectionsAccepted: Int { state.withLock { $0.accepted } }

    /// Stops listening and cuts every connection.
    public func stop() {
        let sockets = state.withLock { state -> Set<Int32> in
            state.stopped = true
            return state.open
        }
        shutdown(listener, Int32(SHUT_RDWR))
        close(listener)
        for socket in sockets { shutdown(socket, Int32(SHUT_RDWR)) }
    }

    private func acceptLoop() {
        while true {
            let client = accept(listener, nil, nil)
            if client < 0 {
                if errno == EINTR { continue }
                return
            }
            let (mode, stopped) = state.withLock { state -> (Mode, Bool) in
                state.accepted += 1
                return (state.mode, state.stopped)
            }
            if stopped {
                close(client)
                return
            }
            if mode == .down {
                close(client)
                continue
            }
            let upstream = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var address = Self.loopback(port: state.withLock { $0.upstreamPort })
            let connected = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    connect(upstream, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
            guard upstream >= 0, connected == 0 else {
                close(client)
                if upstream >= 0 { close(upstream) }
                continue
            }
            state.withLock { state in
                state.open.insert(client)
                state.open.insert(upstream)
            }
            let pair = Pair(client: client, upstream: upstream)
            state.withLock { $0.pairs.append(pair) }
            Thread { [self] in pump(from: client, to: upstream, pair: pair, fromClient: true) }.start()
            Thread { [self] in pump(from: upstream, to: client, pair: pair, fromClient: false) }.start()
        }
    }

    /// Copies bytes from `source` to `destination` while forwarding; holds them (reads nothing) while stalled.
    private func pump(from source: Int32, to destination: Int32, pair: Pair, fromClient: Bool) {
        var buffer = [UInt8](repeating: 0, count: 16 * 1024)
        loop: while true {
            let mode = state.withLock { $0.mode }
            if pair.isShut { break }
            if mode == .stall || pair.isStalled {
                usleep(20_000)
                // A client that gives up on a stalled call closes its socket: notice it without reading data.
                if fromClient, Self.peerClosed(source) {
                    state.withLock { $0.closedByClient += 1 }
                    break loop
                }
                continue
            }
            var poller = pollfd(fd: source, events: Int16(POLLIN), revents: 0)
            let ready = poll(&poller, 1, 50)
            if ready == 0 { continue }
            if ready < 0 {
                if errno == EINTR { continue }
                break
            }
            if state.withLock({ $0.mode }) == .stall || pair.isStalled { continue }
            let count = read(source, &buffer, buffer.count)
            if count <= 0 {
                if fromClient && count == 0 && state.withLock({ $0.mode }) != .down {
                    state.withLock { $0.closedByClient += 1 }
                }
                break
            }
            var sent = 0
            while sent < count {
                let written = buffer.withUnsafeBytes { write(destination, $0.baseAddress! + sent, count - sent) }
                if written <= 0 { break loop }
                sent += written
            }
        }
        pair.finish { socket in
            _ = state.withLock { $0.open.remove(socket) }
        }
    }

    /// Whether the peer of `socket` has closed it (an orderly shutdown with no data pending).
    private static func peerClosed(_ socket: Int32) -> Bool {
        var poller = pollfd(fd: socket, events: Int16(POLLIN | pollReadHangUp), revents: 0)
        guard poll(&poller, 1, 0) > 0 else { return false }
        if poller.revents & Int16(pollReadHangUp | POLLHUP | POLLERR) != 0 { return true }
        var byte: UInt8 = 0
        return recv(socket, &byte, 1, Int32(MSG_PEEK | MSG_DONTWAIT)) == 0
    }

    private static func loopback(port: Int) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr = in_addr(s_addr: inet_addr("127.0.0.1"))
        return address
    }
}

/// The two sockets of one proxied connection: the first pump to end shuts both down (which ends the other), the
/// second closes them, so no descriptor is closed while a pump may still use it.
private final class Pair: Sendable {
    let client: Int32
    let upstream: Int32
    private let ended = Mutex(0)
    private let stalled = Mutex(false)

    init(client: Int32, upstream: Int32) {
        self.client = client
        self.upstream = upstream
    }

    var isShut: Bool { ended.withLock { $0 > 0 } }
    var isStalled: Bool { stalled.withLock { $0 } }

    func stall() { stalled.withLock { $0 = true } }

    func finish(_ forget: (Int32) -> Void) {
        let count = ended.withLock { ended -> Int in
            ended += 1
            return ended
        }
        if count == 1 {
            shutdown(client, Int32(SHUT_RDWR))
            shutdown(upstream, Int32(SHUT_RDWR))
        } else {
            forget(client)
            forget(upstream)
            Glibc.close(client)
            Glibc.close(upstream)
        }
    }
}

public struct ProxyError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}
