import t from 'tap'
import type { ServerEvent } from '../../schemas/events.ts'
import { buildTestApp } from '../helpers/app.ts'
import { FANOUT_SLICE, FanoutQueue } from '../../src/realtime/fanout-queue.ts'
import { LocalGroups, type GroupMember, type LocalGroupsHooks } from '../../src/realtime/local-groups.ts'

// Local deliveries leave the publisher's call stack (issue 16.2): a send's ack is not held
// behind writing its event to every subscriber, and a big group yields between slices. The
// order every member sees stays the publish order. The app's own bus (in-process) carries the
// events; the members record what they take, in order.

const app = await buildTestApp(t, import.meta.url, { env: { REDIS_URL: 'memory' } })
const { bus } = app

const noHooks: LocalGroupsHooks = {
  beforeFanout () {},
  afterFanout () {},
  userJoined () {},
  userLeft () {},
  onError (err) { throw err }
}

let groupCount = 0
const newGroupId = (): string => `00000000-0000-7000-8000-${String(++groupCount).padStart(12, '0')}`

function typing (groupId: string, userId: number): ServerEvent {
  return { type: 'chat:typing', payload: { groupId, userId, username: `u${userId}`, isTyping: true } } as ServerEvent
}

/** A member that writes `name:<event's userId>` to the log. */
function recorder (log: string[], name: string, userId = 1): GroupMember {
  return { userId, receive (event) { log.push(`${name}:${String((event.payload as { userId?: number }).userId)}`) } }
}

const turn = async (): Promise<void> => { await new Promise<void>((resolve) => { setImmediate(resolve) }) }

t.test('a group event reaches no member on the publisher\'s stack; what the publisher does next comes before the big fanout ends', async (t) => {
  const queue = new FanoutQueue((err) => { throw err })
  const groups = new LocalGroups(bus, queue, noHooks)
  const groupId = newGroupId()
  const log: string[] = []
  const size = 3 * FANOUT_SLICE + 10
  const leaves = Array.from({ length: size }, (_, i) => groups.join(groupId, recorder(log, `m${i}`)))
  t.teardown(() => { for (const leave of leaves) leave() })

  bus.publish({ groupId }, typing(groupId, 7))
  t.same(log, [], 'publish returned before any member took the event')
  // The send path after its publish: the ack goes out on a later turn (after the counter reads).
  setImmediate(() => { log.push('ack') })
  await queue.settled()
  t.equal(log.length, size + 1, 'every member took the event once')
  const ackAt = log.indexOf('ack')
  t.ok(ackAt > 0 && ackAt <= FANOUT_SLICE, `the ack came after at most one slice (after ${ackAt} deliveries)`)
  t.ok(ackAt < size, 'and before the fanout ended')
  t.same(log.filter((entry) => entry !== 'ack'), Array.from({ length: size }, (_, i) => `m${i}:7`), 'members in join order')
})

t.test('events of several groups and users reach each member in publish order, across slices', async (t) => {
  const queue = new FanoutQueue((err) => { throw err })
  const groups = new LocalGroups(bus, queue, noHooks)
  const big = newGroupId()
  const small = newGroupId()
  const watched: string[] = []
  const others: string[] = []
  const leaves = [
    ...Array.from({ length: 2 * FANOUT_SLICE }, () => groups.join(big, recorder(others, 'x'))),
    groups.join(big, recorder(watched, 'big')),
    groups.join(small, recorder(watched, 'small'))
  ]
  t.teardown(() => { for (const leave of leaves) leave() })
  const userEvent = (n: number): void => { queue.pushOne(() => { watched.push(`user:${n}`) }) }

  bus.publish({ groupId: big }, typing(big, 1))
  userEvent(2)
  bus.publish({ groupId: small }, typing(small, 3))
  bus.publish({ groupId: big }, typing(big, 4))
  userEvent(5)
  bus.publish({ groupId: small }, typing(small, 6))
  t.same(watched, [])
  await queue.settled()
  t.same(watched, ['big:1', 'user:2', 'small:3', 'big:4', 'user:5', 'small:6'], 'one member\'s view is the publish order')
  t.equal(others.length, 2 * 2 * FANOUT_SLICE)
})

t.test('a member joining during a fanout takes the event in progress and the next ones; one leaving takes nothing more', async (t) => {
  const queue = new FanoutQueue((err) => { throw err })
  const groups = new LocalGroups(bus, queue, noHooks)
  const groupId = newGroupId()
  const log: string[] = []
  const first = groups.join(groupId, recorder(log, 'first'))
  const crowd = Array.from({ length: 2 * FANOUT_SLICE }, () => groups.join(groupId, { userId: 2, receive () {} }))
  const leaving = groups.join(groupId, recorder(log, 'leaving'))
  t.teardown(() => { first(); for (const leave of crowd) leave() })

  bus.publish({ groupId }, typing(groupId, 1))
  bus.publish({ groupId }, typing(groupId, 2))
  await turn()
  // One slice in: 'first' took event 1, 'leaving' not yet.
  t.same(log, ['first:1'])
  leaving()
  const late = groups.join(groupId, recorder(log, 'late'))
  t.teardown(late)
  await queue.settled()
  t.same(log, ['first:1', 'late:1', 'first:2', 'late:2'], 'the late member got both, in order; the one gone got none')
})

t.test('settled waits for what was queued before it', async (t) => {
  const queue = new FanoutQueue((err) => { throw err })
  const log: string[] = []
  await queue.settled()
  queue.pushOne(() => { log.push('a') })
  const settled = queue.settled().then(() => { log.push('settled') })
  queue.pushOne(() => { log.push('b') })
  t.same(log, [])
  await settled
  t.same(log.slice(0, 1), ['a'], 'a ran before settled resolved')
  await queue.settled()
  t.same(log.filter((entry) => entry !== 'settled'), ['a', 'b'])
  t.equal(queue.backlog, 0)
})

t.test('a backlog past MAX_QUEUED_JOBS is caught up within the turn: the queue stays bounded', async (t) => {
  const queue = new FanoutQueue((err) => { throw err })
  const log: number[] = []
  for (let i = 0; i < 1000; i++) queue.pushOne(() => { log.push(i) })
  await turn()
  t.ok(queue.backlog <= 64, `at most MAX_QUEUED_JOBS left after one turn (${queue.backlog})`)
  await queue.settled()
  t.same(log, Array.from({ length: 1000 }, (_, i) => i), 'in order')
})
