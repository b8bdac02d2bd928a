#if canImport(Glibc)
import Glibc
#endif

/// Finds a free TCP port on 127.0.0.1.
public enum FreePort {
    /// Ports drawn from here are below Linux's default ephemeral range (32768–60999), which the kernel hands to
    /// every outgoing connection and every bind to port 0: a port found free here is not taken a moment later by
    /// some connection to PostgreSQL, as a kernel-chosen one can be on a busy machine.
    static let quietPorts = 20000..<32768

    /// A port on 127.0.0.1 that nothing listens on: a random one of ``quietPorts`` that binds (at most 64 tries),
    /// else one the kernel chooses.
    ///
    /// Another process may still take the port before the caller uses it; `LocalPostgresCluster.start` retries with
    /// a new port when the server reports that its address is in use.
    public static func find() throws(LocalClusterError) -> Int {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<64 {
            let port = Int.random(in: quietPorts, using: &generator)
            if (try? bindAndClose(port)) == port { return port }
        }
        return try bindAndClose(0)
    }

    /// Binds a TCP socket to 127.0.0.1:`port` (0: the kernel chooses), reads the port bound, and closes the socket.
    private static func bindAndClose(_ port: Int) throws(LocalClusterError) -> Int {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { throw failure("could not create a socket") }
        defer { close(descriptor) }

        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        address.sin_addr.s_addr = UInt32(0x7f00_0001).bigEndian
        let bound = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard bound == 0 else { throw failure("could not bind 127.0.0.1:\(port)") }

        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let named = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &length) }
        }
        guard named == 0 else { throw failure("could not read the bound port") }
        let chosen = Int(UInt16(bigEndian: address.sin_port))
        guard chosen > 0 else { throw LocalClusterError(code: "free_port_failed", message: "the kernel returned port 0") }
        return chosen
    }

    private static func failure(_ what: String) -> LocalClusterError {
        let reason = String(cString: strerror(errno)).lowercased()
        return LocalClusterError(code: "free_port_failed", message: "\(what): \(reason)")
    }
}
