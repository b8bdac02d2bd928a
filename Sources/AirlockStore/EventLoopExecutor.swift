import NIOCore

/// A Swift task executor that runs its jobs on one SwiftNIO event loop: a task that prefers it runs on the loop of the
/// connection it talks to, so writing a statement and resuming on its answer need no hop between Swift's global
/// executor and the event loop's thread (two thread wake-ups per statement fewer).
///
/// Only for work that never blocks and is short: whatever runs here holds up every other channel of that loop while it
/// runs. ``DatabaseClient/execute(_:logger:onEventLoop:file:line:)`` uses it on request, for the risk baseline's read
/// (one row): writing the statement and collecting its row.
final class EventLoopExecutor: TaskExecutor {
    let eventLoop: any EventLoop

    init(_ eventLoop: any EventLoop) {
        self.eventLoop = eventLoop
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        let executor = asUnownedTaskExecutor()
        eventLoop.execute { job.runSynchronously(on: executor) }
    }
}
