import NIOCore

/// A Swift task executor that runs its jobs on one SwiftNIO event loop: a task that prefers it runs on the loop of the
/// connection it talks to, so writing a statement and resuming on its answer need no hop between Swift's global
/// executor and the event loop's thread (two thread wake-ups per statement fewer).
///
/// Only for work that never blocks: whatever runs here holds up every other channel of that loop while it runs.
/// ``DatabaseClient`` uses it for single statements, whose work on the loop is writing the statement and collecting
/// its rows.
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
