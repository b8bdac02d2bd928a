import AirlockCore
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Lines appended to a file that rotates by size like logrotate (`airlock.jsonl` → `airlock.jsonl.1` → … →
/// `airlock.jsonl.KEEP`, the oldest removed), or to standard output. Blocking system calls: run it off the
/// concurrency pool (``JSONLinesSink`` gives it a thread of its own).
///
/// - A line is never split: a batch is cut between lines when the next line would take the file past `maxBytes`
///   (a single line longer than that gets a file to itself).
/// - ``append(_:)`` returns once the lines are on disk (`fsync`); a rotation syncs the file it closes and the
///   directory that holds the renamed files.
/// - The file is created with `mode` when missing (0640: the owner writes, a log shipper in the owner's group reads);
///   an existing file keeps its mode. A file that another tool moved away or truncated is noticed before each batch
///   (another inode at the path, or a smaller size) and reopened or measured again, so external rotation works too.
/// - An interrupted write can leave a partial last line (a crash, a full disk). Opening the file cuts it off, back
///   to the last newline (``Opened/repairedBytes``): those events were never recorded as written, so they are
///   written again, whole. Log shippers read whole lines only, so none has read the part that is removed.
///
/// Standard output is written as it is: no rotation, and `fsync` only where it is a regular file.
final class JSONLinesFile: Sendable {
    /// Where the lines go.
    enum Target: Sendable, Equatable {
        case file(path: String, maxBytes: Int64, keep: Int, mode: mode_t)
        case standardOutput
    }

    /// What ``append(_:)`` did besides appending, for the caller's log.
    struct Outcome: Sendable, Equatable {
        /// Bytes of a partial last line cut off when the file was opened (0: none).
        var repairedBytes: Int64 = 0
        /// Files rotated during the batch.
        var rotations = 0
    }

    private struct State: Sendable {
        var descriptor: Int32?
        /// The size of the open file, as written by this process (checked against `fstat` before each batch).
        var size: Int64 = 0
    }

    let target: Target
    private let state = Mutex(State())

    init(_ target: Target) {
        self.target = target
    }

    deinit {
        state.withLock { state in
            if let descriptor = state.descriptor { _ = close(descriptor) }
        }
    }

    /// `path`, or `stdout`.
    var destination: String {
        switch target {
        case .file(let path, _, _, _): path
        case .standardOutput: "stdout"
        }
    }

    /// Appends `lines` (each without its newline), rotating as needed, and syncs. On failure the file is closed (the
    /// next call reopens it and cuts off whatever part of a line was written) and the error names the operation.
    @discardableResult
    func append(_ lines: [String]) throws(AuditError) -> Outcome {
        try state.withLock { state throws(AuditError) in
            do throws(AuditError) {
                return try append(lines, state: &state)
            } catch {
                if let descriptor = state.descriptor, case .file = target { _ = close(descriptor) }
                state.descriptor = nil
                throw error
            }
        }
    }

    /// Closes the file (the next ``append(_:)`` reopens it).
    func closeFile() {
        state.withLock { state in
            if let descriptor = state.descriptor, case .file = target { _ = close(descriptor) }
            state.descriptor = nil
        }
    }

    private func append(_ lines: [String], state: inout State) throws(AuditError) -> Outcome {
        var outcome = Outcome()
        guard case .file(let path, let maxBytes, let keep, let mode) = target else {
            var bytes: [UInt8] = []
            for line in lines {
                bytes.append(contentsOf: line.utf8)
                bytes.append(0x0A)
            }
            try writeAll(1, bytes, "standard output")
            if fsync(1) != 0, ![EINVAL, EROFS, ENOTSUP].contains(errno) {
                throw failure("fsync", path: "standard output")
            }
            return outcome
        }
        outcome.repairedBytes = try openIfNeeded(path: path, mode: mode, state: &state)
        var pending: [UInt8] = []
        for line in lines {
            let length = Int64(line.utf8.count + 1)
            if state.size + Int64(pending.count) > 0, state.size + Int64(pending.count) + length > maxBytes {
                try flush(&pending, state: &state, path: path)
                try rotate(path: path, keep: keep, mode: mode, state: &state)
                outcome.rotations += 1
            }
            pending.append(contentsOf: line.utf8)
            pending.append(0x0A)
        }
        try flush(&pending, state: &state, path: path)
        guard let descriptor = state.descriptor, fsync(descriptor) == 0 else { throw failure("fsync", path: path) }
        return outcome
    }

    private func flush(_ pending: inout [UInt8], state: inout State, path: String) throws(AuditError) {
        guard !pending.isEmpty, let descriptor = state.descriptor else { return }
        try writeAll(descriptor, pending, path)
        state.size += Int64(pending.count)
        pending.removeAll(keepingCapacity: true)
    }

    /// Opens `path` unless the open file is still the one at `path`; returns the bytes of a partial last line cut off.
    private func openIfNeeded(path: String, mode: mode_t, state: inout State) throws(AuditError) -> Int64 {
        if let descriptor = state.descriptor {
            var open = stat(), named = stat()
            if fstat(descriptor, &open) == 0, stat(path, &named) == 0,
               open.st_dev == named.st_dev, open.st_ino == named.st_ino {
                state.size = Int64(open.st_size)  // another tool may have truncated it (copytruncate)
                return 0
            }
            _ = close(descriptor)  // moved away or removed by another tool: start a new file
            state.descriptor = nil
        }
        var created = true
        var descriptor = open(path, O_WRONLY | O_APPEND | O_CREAT | O_EXCL | O_CLOEXEC, mode)
        if descriptor < 0, errno == EEXIST {
            created = false
            descriptor = open(path, O_WRONLY | O_APPEND | O_CLOEXEC)
        }
        guard descriptor >= 0 else { throw failure("open", path: path) }
        state.descriptor = descriptor
        if created {
            // The process umask must not widen or narrow what was asked for.
            guard fchmod(descriptor, mode) == 0 else { throw failure("chmod", path: path) }
            try syncDirectory(of: path)
        }
        var status = stat()
        guard fstat(descriptor, &status) == 0 else { throw failure("stat", path: path) }
        state.size = Int64(status.st_size)
        let whole = try wholeLinesLength(path: path, size: state.size)
        guard whole < state.size else { return 0 }
        guard ftruncate(descriptor, off_t(whole)) == 0 else { throw failure("truncate", path: path) }
        let repaired = state.size - whole
        state.size = whole
        return repaired
    }

    /// The length of the file's content up to and including its last newline (its size when it ends with one).
    private func wholeLinesLength(path: String, size: Int64) throws(AuditError) -> Int64 {
        guard size > 0 else { return 0 }
        let reader = open(path, O_RDONLY | O_CLOEXEC)
        guard reader >= 0 else { throw failure("open", path: path) }
        defer { _ = close(reader) }
        var end = size
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        while end > 0 {
            let start = max(0, end - Int64(buffer.count))
            let count = Int(end - start)
            let read = buffer.withUnsafeMutableBytes { pread(reader, $0.baseAddress, count, off_t(start)) }
            guard read == count else { throw failure("read", path: path) }
            if let newline = buffer[0..<count].lastIndex(of: 0x0A) {
                return start + Int64(newline) + 1
            }
            end = start
        }
        return 0
    }

    /// Syncs and closes the file, shifts `path.N` to `path.N+1` (the oldest beyond `keep` removed), renames `path` to
    /// `path.1` (removes it when `keep` is 0), syncs the directory and opens a new `path`.
    private func rotate(path: String, keep: Int, mode: mode_t, state: inout State) throws(AuditError) {
        if let descriptor = state.descriptor {
            guard fsync(descriptor) == 0 else { throw failure("fsync", path: path) }
            _ = close(descriptor)
            state.descriptor = nil
        }
        if keep == 0 {
            guard unlink(path) == 0 || errno == ENOENT else { throw failure("remove", path: path) }
        } else {
            let oldest = "\(path).\(keep)"
            guard unlink(oldest) == 0 || errno == ENOENT else { throw failure("remove", path: oldest) }
            for index in stride(from: keep - 1, through: 1, by: -1) {
                guard rename("\(path).\(index)", "\(path).\(index + 1)") == 0 || errno == ENOENT else {
                    throw failure("rename", path: "\(path).\(index)")
                }
            }
            guard rename(path, "\(path).1") == 0 else { throw failure("rename", path: path) }
        }
        try syncDirectory(of: path)
        _ = try openIfNeeded(path: path, mode: mode, state: &state)
    }

    /// Writes all of `bytes` to `descriptor`, again after a short write or an interruption.
    private func writeAll(_ descriptor: Int32, _ bytes: [UInt8], _ name: String) throws(AuditError) {
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeBytes { buffer in
                write(descriptor, buffer.baseAddress.map { $0 + offset }, buffer.count - offset)
            }
            if written < 0 {
                if errno == EINTR { continue }
                throw failure("write", path: name)
            }
            offset += written
        }
    }

    /// Makes the directory entry of `path` (a creation or a rename) durable.
    private func syncDirectory(of path: String) throws(AuditError) {
        let directory = path.lastIndex(of: "/").map { $0 == path.startIndex ? "/" : String(path[..<$0]) } ?? "."
        let descriptor = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard descriptor >= 0 else { throw failure("open the directory of", path: path) }
        defer { _ = close(descriptor) }
        guard fsync(descriptor) == 0 else { throw failure("fsync the directory of", path: path) }
    }

    /// `cannot write the audit sink: write `/var/log/airlock.jsonl`: No space left on device`, from `errno`.
    private func failure(_ operation: String, path: String) -> AuditError {
        let reason = String(cString: strerror(errno))
        return AuditError(
            code: "sink_write_failed", message: "cannot write the audit sink: \(operation) `\(path)`: \(reason)")
    }
}
