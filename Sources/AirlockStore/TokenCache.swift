import Foundation
import Synchronization

/// What a broker remembers about API tokens it has looked up (by SHA-256 of the token), so the hot paths —
/// authenticating an `alk_` token, introspecting an `alkc_` token — skip the database.
///
/// Correctness over speed:
/// - Expiry is still checked against the clock on every use of a remembered token.
/// - The cache answers only while ``TokenChangeListener`` is listening on `airlock_token_changes`, which a trigger
///   notifies on every change that can end a token (migration 0002). A notification clears everything; so does a
///   revocation made through this process, at once, before it returns.
/// - It answers only within ``window`` of the last proof that every change committed so far was handled (the
///   listener hearing its own heartbeat): a broker whose notifications lag stops answering from its cache by
///   itself, which is what lets a revoker elsewhere bound its wait (see ``RevocationBarrier``).
/// - A revoker that gave up waiting for this broker switches the cache off until the broker catches up.
/// - A lookup that raced with a clear is not stored (the generation changed between the read and the store).
/// - Entries live at most ``maximumAge`` even without notifications.
public final class TokenCache<Value: Sendable>: Sendable {
    private struct Entry {
        let value: Value
        let storedAt: ContinuousClock.Instant
    }

    private struct State {
        var live = false
        var switchedOff = false
        var answersUntil: ContinuousClock.Instant?
        var window: Duration
        var generation: UInt64 = 0
        var entries: [Data: Entry] = [:]

        var answers: Bool {
            guard live, !switchedOff, let answersUntil else { return false }
            return ContinuousClock.now < answersUntil
        }
    }

    private let state: Mutex<State>
    /// How long an entry may be used without a fresh read.
    public let maximumAge: Duration
    /// At most this many entries; storing into a full cache clears it first.
    public let capacity: Int

    /// A cache of at most `capacity` entries, each used at most `maximumAge`, answering for `window` after each
    /// proof (until a listener sets its own window).
    public init(maximumAge: Duration = .seconds(30), capacity: Int = 100_000, window: Duration = .seconds(3)) {
        self.maximumAge = maximumAge
        self.capacity = capacity
        self.state = Mutex(State(window: window))
    }

    /// The generation to pass to ``store(_:for:generation:)`` after reading from the database.
    public var generation: UInt64 { state.withLock { $0.generation } }

    /// How long the cache answers after the last proof that every change was handled.
    public var window: Duration { state.withLock { $0.window } }

    /// The remembered value for `hash`, when the cache answers and the entry is young enough.
    public func value(for hash: Data) -> Value? {
        state.withLock { state in
            guard state.answers, let entry = state.entries[hash] else { return nil }
            guard ContinuousClock.now - entry.storedAt < maximumAge else {
                state.entries[hash] = nil
                return nil
            }
            return entry.value
        }
    }

    /// Remembers `value` for `hash` if nothing was cleared since `generation` was read and the cache answers.
    public func store(_ value: Value, for hash: Data, generation: UInt64) {
        state.withLock { state in
            guard state.answers, state.generation == generation else { return }
            if state.entries.count >= capacity { state.entries.removeAll(keepingCapacity: true) }
            state.entries[hash] = Entry(value: value, storedAt: .now)
        }
    }

    /// Replaces the value remembered for `hash` (say, a newer `last_used_at`) without making the entry younger, so
    /// ``maximumAge`` still bounds how long an answer read from the database is used.
    public func refresh(_ value: Value, for hash: Data) {
        state.withLock { state in
            guard state.answers, let entry = state.entries[hash] else { return }
            state.entries[hash] = Entry(value: value, storedAt: entry.storedAt)
        }
    }

    /// Forgets everything.
    public func clear() {
        state.withLock { state in
            state.generation &+= 1
            state.entries.removeAll(keepingCapacity: true)
        }
    }

    /// Whether change notifications are being received; when not, the cache neither answers nor stores. Going
    /// live counts as a proof that every change was handled (the cache is empty and everything committed from
    /// now on is delivered).
    public func setLive(_ live: Bool) {
        state.withLock { state in
            state.live = live
            state.answersUntil = live ? .now + state.window : nil
            state.generation &+= 1
            state.entries.removeAll(keepingCapacity: true)
        }
    }

    /// Every change committed before `instant` has been handled: the cache may answer until `instant` + ``window``.
    public func confirm(through instant: ContinuousClock.Instant) {
        state.withLock { state in
            guard state.live else { return }
            let until = instant + state.window
            if state.answersUntil.map({ $0 < until }) ?? true { state.answersUntil = until }
        }
    }

    /// Switches the cache off (a revoker gave up waiting for this broker) or back on; switching off forgets
    /// everything.
    public func switchOff(_ off: Bool) {
        state.withLock { state in
            guard state.switchedOff != off else { return }
            state.switchedOff = off
            state.generation &+= 1
            state.entries.removeAll(keepingCapacity: true)
        }
    }

    /// Sets ``window`` (the listener that confirms derives it from its heartbeat interval).
    public func setWindow(_ window: Duration) {
        state.withLock { $0.window = window }
    }
}
