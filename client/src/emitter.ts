/** A listener of event `K` of an event map. */
export type Listener<Events, K extends keyof Events> = (value: Events[K]) => void

/**
 * A small typed event emitter. A listener that throws does not disturb the SDK's own state:
 * the error is rethrown on its own turn of the event loop, where the platform reports it.
 */
export class Emitter<Events> {
  private readonly listeners = new Map<keyof Events, Set<(value: never) => void>>()

  /** Adds a listener; returns a function that removes it. */
  on<K extends keyof Events> (type: K, listener: Listener<Events, K>): () => void {
    let set = this.listeners.get(type)
    if (set === undefined) {
      set = new Set()
      this.listeners.set(type, set)
    }
    set.add(listener as (value: never) => void)
    return () => { this.off(type, listener) }
  }

  /** Adds a listener called once, at the next event of this type. */
  once<K extends keyof Events> (type: K, listener: Listener<Events, K>): () => void {
    const off = this.on(type, (value) => {
      off()
      listener(value)
    })
    return off
  }

  off<K extends keyof Events> (type: K, listener: Listener<Events, K>): void {
    this.listeners.get(type)?.delete(listener as (value: never) => void)
  }

  emit<K extends keyof Events> (type: K, value: Events[K]): void {
    const set = this.listeners.get(type)
    if (set === undefined) return
    for (const listener of [...set]) {
      try {
        (listener as Listener<Events, K>)(value)
      } catch (err) {
        void Promise.reject(err)
      }
    }
  }

  listenerCount (type: keyof Events): number {
    return this.listeners.get(type)?.size ?? 0
  }

  removeAll (): void {
    this.listeners.clear()
  }
}
