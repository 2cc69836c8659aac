import type { Bus, PublishOptions } from '../plugins/bus.ts'
import type { ServerEvent } from '../../schemas/events.ts'
import type { FanoutJob, FanoutQueue } from './fanout-queue.ts'

/** One connection's place in a group's fanout on this instance. */
export interface GroupMember {
  readonly userId: number
  /** Takes one event of the group. */
  receive: (event: ServerEvent) => void
}

interface LocalGroup {
  readonly members: Set<GroupMember>
  /** Subscribed connections per user: the group's distinct local subscribers. */
  readonly users: Map<number, number>
  readonly stop: () => void
}

export interface LocalGroupsHooks {
  /** Runs once per event before any member takes it (e.g. to note its origin, to serialize it). */
  beforeFanout: (event: ServerEvent, options: PublishOptions) => void
  /** Runs once per event after every member took it. */
  afterFanout: (event: ServerEvent) => void
  /** A user's first subscription to the group on this instance. */
  userJoined: (groupId: string, userId: number) => void
  /** A user's last subscription to the group on this instance ended. */
  userLeft: (groupId: string, userId: number) => void
  onError: (err: unknown, event: ServerEvent) => void
}

/**
 * One event on its way to a group's members, a slice at a time (fanout-queue.ts). It walks the
 * live member set: a member gone before its turn is skipped, one that joins meanwhile takes
 * the event too (its subscription drops what its replay already sent, by seq).
 */
class GroupFanout implements FanoutJob {
  done = false
  private readonly members: Set<GroupMember>
  private readonly event: ServerEvent
  private readonly options: PublishOptions
  private readonly hooks: LocalGroupsHooks
  private cursor: SetIterator<GroupMember> | null = null

  constructor (members: Set<GroupMember>, event: ServerEvent, options: PublishOptions, hooks: LocalGroupsHooks) {
    this.members = members
    this.event = event
    this.options = options
    this.hooks = hooks
  }

  step (budget: number): number {
    const { event, hooks } = this
    if (this.cursor === null) {
      hooks.beforeFanout(event, this.options)
      this.cursor = this.members.values()
    }
    let made = 0
    // A Set iterator has no `return`: leaving the loop early keeps its place for the next slice.
    for (const member of this.cursor) {
      try {
        member.receive(event)
      } catch (err) {
        hooks.onError(err, event)
      }
      made += 1
      if (made >= budget) return made
    }
    this.done = true
    hooks.afterFanout(event)
    return made
  }
}

/**
 * This instance's group subscriptions: one bus listener per group, whatever the number of its
 * subscribers, queueing each event for every member (fanout-queue.ts: after the publisher's
 * turn, in slices). Per event there is one listener call, one serialization (beforeFanout) and
 * then a loop; nothing is allocated per member.
 */
export class LocalGroups {
  private readonly groups = new Map<string, LocalGroup>()
  private readonly bus: Bus
  private readonly hooks: LocalGroupsHooks
  private readonly queue: FanoutQueue

  constructor (bus: Bus, queue: FanoutQueue, hooks: LocalGroupsHooks) {
    this.bus = bus
    this.queue = queue
    this.hooks = hooks
  }

  /** Adds a member to the group's fanout; the returned function removes it (once). */
  join (groupId: string, member: GroupMember): () => void {
    let group = this.groups.get(groupId)
    if (group === undefined) {
      const members = new Set<GroupMember>()
      const stop = this.bus.subscribe({ groupId }, (event, options) => { this.queue.push(new GroupFanout(members, event, options, this.hooks)) })
      group = { members, users: new Map(), stop }
      this.groups.set(groupId, group)
    }
    group.members.add(member)
    const count = group.users.get(member.userId) ?? 0
    group.users.set(member.userId, count + 1)
    if (count === 0) this.hooks.userJoined(groupId, member.userId)
    let joined = true
    return () => {
      if (!joined) return
      joined = false
      this.leave(groupId, member)
    }
  }

  /** Distinct users subscribed to the group on this instance. */
  usersSubscribed (groupId: string): number {
    return this.groups.get(groupId)?.users.size ?? 0
  }

  /** True when the user has a subscription to the group on this instance. */
  isSubscribed (groupId: string, userId: number): boolean {
    return this.groups.get(groupId)?.users.has(userId) ?? false
  }

  /** Subscribed connections to the group on this instance. */
  connectionsSubscribed (groupId: string): number {
    return this.groups.get(groupId)?.members.size ?? 0
  }

  /** The groups with subscribers here and their distinct subscribed users. */
  * subscribedUsers (): Iterable<[string, Iterable<number>]> {
    for (const [groupId, group] of this.groups) yield [groupId, group.users.keys()]
  }

  private leave (groupId: string, member: GroupMember): void {
    const group = this.groups.get(groupId)
    if (group === undefined || !group.members.delete(member)) return
    const count = (group.users.get(member.userId) ?? 1) - 1
    if (count > 0) {
      group.users.set(member.userId, count)
    } else {
      group.users.delete(member.userId)
      this.hooks.userLeft(groupId, member.userId)
    }
    if (group.members.size > 0) return
    this.groups.delete(groupId)
    group.stop()
  }
}
