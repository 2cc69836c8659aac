import WebSocket from 'ws'
import { randomUUID } from 'node:crypto'
import { createConnection } from 'mysql2/promise'
import { BENCH_MYSQL, argValue, cpuMs, report, startParley, stopProcess } from './lib.ts'

/*
 * The cost of a send does not grow with the group (issue 16.4): server CPU per persisted
 * chat:send_message (ack included: deliveredToCount / queuedForCount) into a group of 10 and
 * into a group of `--members` (50,000, inserted straight into the database), in alternating
 * rounds of `--sends` so the machine's drift hits both alike. One subscriber in each group, so
 * the fanout is the same; only the member count differs.
 */
const bigMembers = argValue('members', 50_000)
const rounds = argValue('rounds', 4)
const sendsPerRound = argValue('sends', 200)
const window = argValue('window', 8)
const database = 'parley_bench_big_group'
const parley = await startParley(database, { MAX_GROUP_MEMBERS: String(bigMembers + 10) })
const url = `ws://127.0.0.1:${parley.port}/mirror/groups/chat`

async function open (token: string): Promise<WebSocket> {
  const socket = new WebSocket(`${url}?token=${token}`, { perMessageDeflate: false })
  await new Promise((resolve, reject) => { socket.once('open', resolve); socket.once('error', reject) })
  return socket
}

async function register (name: string): Promise<{ id: number, token: string }> {
  const data = await parley.post('/auth/register', { email: `${name}@bench.test`, username: name, password: 'benchmark password' })
  return { id: (data.user as { id: number }).id, token: data.token as string }
}

/** Adds `count` users to the group in bulk SQL, with the group's member counter. */
async function fill (groupId: string, count: number, prefix: string): Promise<void> {
  const admin = await createConnection({ uri: `${BENCH_MYSQL}/${database}` })
  const groupHex = groupId.replace(/-/g, '')
  for (let done = 0; done < count; done += 5000) {
    const batch = Math.min(5000, count - done)
    const users = Array.from({ length: batch }, (_, i) => `('${prefix}${done + i}@bench.test', '${prefix}${done + i}', NOW(3), NOW(3))`)
    const [inserted] = await admin.query(`INSERT INTO users (email, username, created_at, updated_at) VALUES ${users.join(',')}`) as unknown as [{ insertId: number }]
    const members = Array.from({ length: batch }, (_, i) => `(UNHEX('${groupHex}'), ${inserted.insertId + i}, 'member', NOW(3))`)
    await admin.query(`INSERT INTO mirror_group_members (group_id, user_id, role, joined_at) VALUES ${members.join(',')}`)
  }
  await admin.query(`UPDATE mirror_groups SET member_count = (SELECT COUNT(*) FROM mirror_group_members WHERE group_id = UNHEX('${groupHex}')) WHERE id = UNHEX('${groupHex}')`)
  await admin.end()
}

/** Sends `count` messages with `window` unacknowledged; resolves with the acks' counts of the last one. */
async function sendMany (socket: WebSocket, groupId: string, count: number): Promise<{ deliveredToCount: number, queuedForCount: number }> {
  let sent = 0
  let acked = 0
  let last = { deliveredToCount: 0, queuedForCount: 0 }
  return await new Promise((resolve, reject) => {
    const sendOne = (): void => {
      const id = randomUUID()
      sent += 1
      socket.send(JSON.stringify({ type: 'chat:send_message', requestId: id, payload: { groupId, content: `big group ${id}`, clientMessageId: id } }))
    }
    const onMessage = (raw: Buffer): void => {
      const frame = JSON.parse(raw.toString('utf8')) as { type: string, payload: { deliveredToCount: number, queuedForCount: number } }
      if (frame.type === 'chat:error') { reject(new Error(JSON.stringify(frame))); return }
      if (frame.type !== 'chat:ack') return
      acked += 1
      last = frame.payload
      if (acked === count) {
        socket.off('message', onMessage)
        resolve(last)
      } else if (sent < count) {
        sendOne()
      }
    }
    socket.on('message', onMessage)
    for (let i = 0; i < Math.min(window, count); i++) sendOne()
  })
}

try {
  const sender = await register('bigsender')
  const reader = await register('bigreader')
  const groups: Record<'small' | 'big', string> = { small: '', big: '' }
  for (const size of ['small', 'big'] as const) {
    const created = await parley.post('/groups', { name: `${size} group`, memberIds: [reader.id] }, sender.token)
    groups[size] = (created.group as { id: string }).id
  }
  await fill(groups.small, 8, 's')
  await fill(groups.big, bigMembers - 2, 'b')
  const readerSocket = await open(reader.token)
  for (const groupId of Object.values(groups)) {
    readerSocket.send(JSON.stringify({ type: 'chat:join_group', requestId: groupId, payload: { groupId } }))
  }
  const senderSocket = await open(sender.token)
  // Warm up both paths (JIT, caches) before measuring.
  for (const groupId of Object.values(groups)) await sendMany(senderSocket, groupId, 50)
  const cpu = { small: 0, big: 0 }
  const acks: Record<string, { deliveredToCount: number, queuedForCount: number }> = {}
  const pid = parley.process.pid ?? 0
  for (let round = 0; round < rounds; round++) {
    for (const size of ['small', 'big'] as const) {
      const before = cpuMs(pid)
      acks[size] = await sendMany(senderSocket, groups[size], sendsPerRound)
      cpu[size] += cpuMs(pid) - before
    }
  }
  const perSend = (ms: number): number => Math.round(ms * 1000 / (rounds * sendsPerRound))
  report('big-group', {
    smallMembers: 10,
    bigMembers,
    sends: rounds * sendsPerRound,
    smallCpuUsPerSend: perSend(cpu.small),
    bigCpuUsPerSend: perSend(cpu.big),
    bigVsSmall: Math.round(100 * cpu.big / Math.max(1, cpu.small)) / 100,
    smallAck: `${acks.small?.deliveredToCount ?? 0} delivered / ${acks.small?.queuedForCount ?? 0} queued`,
    bigAck: `${acks.big?.deliveredToCount ?? 0} delivered / ${acks.big?.queuedForCount ?? 0} queued`
  })
  readerSocket.terminate()
  senderSocket.terminate()
} finally {
  await stopProcess(parley.process)
}
