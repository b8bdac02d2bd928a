#if canImport(Glibc)
import Glibc
#endif

/// Finds a free TCP port on 127.0.0.1.
public enum FreePort {
    /// Binds a TCP socket to 127.0.0.1 port 0, reads the port the kernel chose, and closes the socket.
    ///
    /// Another process may take the port before the caller uses it; `LocalPostgresCluster.start` retries with a
    /// new port when the server reports that its address is in use.
    public static func find() throws(LocalClusterError) -> Int {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { throw failure("could not create a socket") }
        defer { close(descriptor) }

        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = UInt32(0x7f00_0001).bigEndian
        let bound = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard bound == 0 else { throw failure("could not bind 127.0.0.1:0") }

        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let named = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &length) }
        }
        guard named == 0 else { throw failure("could not read the bound port") }
        let port = Int(UInt16(bigEndian: address.sin_port))
        guard port > 0 else { throw LocalClusterError(code: "free_port_failed", message: "the kernel returned port 0") }
        return port
    }

    private static func failure(_ what: String) -> LocalClusterError {
        let reason = String(cString: strerror(errno)).lowercased()
        return LocalClusterError(code: "free_port_failed", message: "\(what): \(reason)")
    }
}
