import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Last-resort handling of a postmaster that `pg_ctl` could not stop: find it through `postmaster.pid`, and kill it
/// and its children with SIGKILL. Only processes whose command name is `postgres` are ever signalled, so a reused
/// process id cannot hit an unrelated program.
enum PostmasterProcess {
    /// The postmaster's process id from `DATA/postmaster.pid`, if the file exists and is readable.
    static func pid(dataDirectory: String) -> pid_t? {
        let file = (dataDirectory as NSString).appendingPathComponent("postmaster.pid")
        guard let text = try? String(contentsOfFile: file, encoding: .utf8),
              let first = text.split(separator: "\n").first,
              let pid = pid_t(first.trimmingCharacters(in: .whitespaces)), pid > 0 else { return nil }
        return pid
    }

    /// Whether `pid` is a live (not zombie) process named `postgres`.
    static func isAlivePostgres(_ pid: pid_t) -> Bool {
        guard let stat = statFields(pid) else { return false }
        return stat.command == "postgres" && stat.state != "Z" && stat.state != "X"
    }

    /// Kills `pid` and its direct children (the server's backends and auxiliary processes) with SIGKILL,
    /// then waits up to `timeout` for them to be gone. Returns whether they are all gone.
    @discardableResult
    static func kill(_ pid: pid_t, timeout: Duration = .seconds(10)) -> Bool {
        guard isAlivePostgres(pid) else { return true }
        let family = [pid] + children(of: pid)
        for member in family where isAlivePostgres(member) {
            _ = Glibc.kill(member, SIGKILL)
        }
        let clock = ContinuousClock()
        let deadline = clock.now.advanced(by: timeout)
        while clock.now < deadline {
            if !family.contains(where: isAlivePostgres) { return true }
            usleep(20_000)
        }
        return !family.contains(where: isAlivePostgres)
    }

    /// The processes whose parent is `pid`.
    static func children(of pid: pid_t) -> [pid_t] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap { pid_t($0) }.filter { statFields($0)?.parent == pid }
    }

    /// The command name, state and parent id from `/proc/PID/stat`.
    private static func statFields(_ pid: pid_t) -> (command: String, state: Character, parent: pid_t)? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let open = text.firstIndex(of: "("), let close = text.lastIndex(of: ")") else { return nil }
        let command = String(text[text.index(after: open)..<close])
        let rest = text[text.index(after: close)...].split(separator: " ")
        guard rest.count >= 2, let state = rest[0].first, let parent = pid_t(rest[1]) else { return nil }
        return (command, state, parent)
    }
}
