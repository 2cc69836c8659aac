import type { FastifyBaseLogger } from 'fastify'
import type { BusTransport } from '../../lib/store/bus-transport.ts'
import type { Meter } from '../metrics.ts'
import type { BusListener, NoticeListener } from '../bus.ts'

/** What the bus's functions work with, built once by the bus plugin (bus.ts). */
export interface BusState {
  /** This instance's id in every envelope it publishes: its own messages come back and are dropped. */
  origin: string
  /** The first bytes of every envelope this instance writes (see transport.ts). */
  ownPrefix: string
  /** Local listeners by channel (local-delivery.ts). */
  listeners: Map<string, Set<BusListener>>
  noticeListeners: Set<NoticeListener>
  /** Other instances, through Redis; none on a single node (REDIS_URL=memory). */
  transport: BusTransport | null
  meter: Meter
  log: FastifyBaseLogger
  /**
   * Publishes not yet answered by Redis: shutdown waits for them, so the last events before it
   * still reach the other instances.
   */
  unanswered: Set<Promise<unknown>>
}
