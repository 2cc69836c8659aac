/*
 * Local deliveries of bus events, off the publisher's call stack (issue 16.2). A send's
 * `chat:ack` must not wait for its event to be written to every subscribed socket, and one
 * group of thousands must not hold every other connection's commands for a whole fanout: the
 * bus hands an event over, the queue writes it on the next turn of the event loop, a slice of
 * sockets per turn, and I/O (the ack's own round trips, other frames) runs between slices.
 *
 * One queue per instance, first in first out, for group and user events alike: every socket
 * receives events in the order they were published, as when delivery was synchronous, only
 * later. A job is finished before the next one starts, so a group's events reach each of its
 * sockets in publish order, whatever the slicing.
 */

/** Deliveries (one socket taking one event) per turn of the event loop before yielding. */
export const FANOUT_SLICE = 256
/**
 * Events waiting past this are caught up without yielding: when events come faster than they
 * can be written, the backlog stays bounded and publishers wait as they did before.
 */
export const MAX_QUEUED_JOBS = 64

/** Work for the queue: `step` makes at most `budget` deliveries and returns how many it made. */
export interface FanoutJob {
  step: (budget: number) => number
  /** True once the job has nothing left to deliver. */
  readonly done: boolean
}

/** One delivery (a user event to one connection) as a job. */
class SingleDelivery implements FanoutJob {
  done = false
  private readonly deliver: () => void
  constructor (deliver: () => void) {
    this.deliver = deliver
  }

  step (): number {
    this.done = true
    this.deliver()
    return 1
  }
}

export class FanoutQueue {
  private jobs: FanoutJob[] = []
  private head = 0
  private scheduled = false
  /** Jobs queued and jobs finished since the start: `settled` waits on the difference. */
  private queuedCount = 0
  private doneCount = 0
  private waiters: Array<{ upTo: number, resolve: () => void }> = []
  private readonly onError: (err: unknown) => void

  constructor (onError: (err: unknown) => void) {
    this.onError = onError
  }

  /** Queues a job; it starts on a later turn, after every job queued before it. */
  push (job: FanoutJob): void {
    this.jobs.push(job)
    this.queuedCount += 1
    this.schedule()
  }

  /** A single delivery (a user event to one connection) as a job. */
  pushOne (deliver: () => void): void {
    this.push(new SingleDelivery(deliver))
  }

  /** Jobs waiting or running. */
  get backlog (): number {
    return this.jobs.length - this.head
  }

  /** Resolves once every job queued before the call has finished. */
  async settled (): Promise<void> {
    if (this.doneCount >= this.queuedCount) return
    await new Promise<void>((resolve) => { this.waiters.push({ upTo: this.queuedCount, resolve }) })
  }

  private schedule (): void {
    if (this.scheduled) return
    this.scheduled = true
    setImmediate(() => {
      this.scheduled = false
      this.run()
    })
  }

  private run (): void {
    let budget = FANOUT_SLICE
    while (this.head < this.jobs.length) {
      if (budget <= 0) {
        if (this.backlog <= MAX_QUEUED_JOBS) break
        budget = FANOUT_SLICE
      }
      const job = this.jobs[this.head] as FanoutJob
      let done: boolean
      try {
        budget -= Math.max(1, job.step(budget))
        done = job.done
      } catch (err) {
        this.onError(err)
        budget -= 1
        done = true
      }
      if (done) this.finish()
    }
    if (this.head < this.jobs.length) this.schedule()
  }

  private finish (): void {
    this.head += 1
    this.doneCount += 1
    // Drop finished jobs now and then rather than shifting the array on every job.
    if (this.head === this.jobs.length) {
      this.jobs = []
      this.head = 0
    } else if (this.head >= 1024) {
      this.jobs = this.jobs.slice(this.head)
      this.head = 0
    }
    if (this.waiters.length === 0) return
    const ready = this.waiters.filter((w) => w.upTo <= this.doneCount)
    if (ready.length === 0) return
    this.waiters = this.waiters.filter((w) => w.upTo > this.doneCount)
    for (const waiter of ready) waiter.resolve()
  }
}
