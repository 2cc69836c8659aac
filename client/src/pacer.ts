import { clearTimer, setTimer, type TimerHandle } from './platform.ts'

/**
 * Runs queued tasks at most `perSecond` per rolling second. The server's per-connection frame
 * budget (seed 01 §9, 50 frames/s) refuses a burst past it, and closes a connection that keeps
 * bursting: rejoining hundreds of groups after a reconnect must trickle, not flood.
 */
export class Pacer {
  private readonly perSecond: number
  private readonly queue: Array<() => void> = []
  private readonly recent: number[] = []
  private timer: TimerHandle | null = null

  constructor (perSecond: number) {
    this.perSecond = perSecond
  }

  run (task: () => void): void {
    this.queue.push(task)
    this.drain()
  }

  /** Drops what has not run yet (the connection it was for is gone). */
  clear (): void {
    this.queue.length = 0
    clearTimer(this.timer)
    this.timer = null
  }

  private drain (): void {
    if (this.timer !== null) return
    const now = Date.now()
    while (this.recent.length > 0 && (this.recent[0] ?? 0) <= now - 1000) this.recent.shift()
    while (this.queue.length > 0 && this.recent.length < this.perSecond) {
      this.recent.push(now)
      this.queue.shift()?.()
    }
    if (this.queue.length === 0) return
    this.timer = setTimer(() => {
      this.timer = null
      this.drain()
    }, Math.max(1, (this.recent[0] ?? now) + 1000 - now))
  }
}
