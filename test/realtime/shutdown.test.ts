import { randomUUID } from 'node:crypto'
import t from 'tap'
import WebSocket from 'ws'
import type { ServerEvent } from '../../schemas/events.ts'
import { buildApp } from '../../src/app.ts'
import { createDatabase } from '../../db/connection.ts'
import { toBin } from '../../src/lib/ids.ts'
import { buildTestApp, testConfig } from '../helpers/app.ts'
import { registerUser } from '../helpers/users.ts'
import { createGroup } from '../helpers/api.ts'
import { connectWs, wsUrl } from '../helpers/ws.ts'

// SIGTERM: server.ts calls markDraining() then close(). Readiness drops, no new upgrades,
// running commands finish, and every socket is closed with 1001.

t.test('closing the app finishes running commands, then closes every socket with 1001', async (t) => {
  const app = await buildTestApp(t, import.meta.url)
  const alice = await registerUser(app)
  const bob = await registerUser(app)
  const groupId = await createGroup(app, alice, [bob])
  const sender = await connectWs(app, { token: alice.token })
  const idle = await connectWs(app, { token: bob.token })
  await sender.request('chat:join_group', { groupId })
  await idle.next('chat:sync')
  for (let i = 0; i < 5; i++) sender.send({ type: 'chat:send_message', payload: { groupId, content: `m${i}` }, requestId: `s${i}` })
  await sender.next('chat:ack', (f) => f.requestId === 's0')

  app.markDraining()
  const closing = app.close()
  const [senderClosed, idleClosed] = await Promise.all([sender.closed, idle.closed])
  await closing
  t.equal(senderClosed.code, 1001)
  t.equal(idleClosed.code, 1001)
  const acks = sender.frames.filter((f) => f.type === 'chat:ack' && f.requestId?.startsWith('s') === true)
  t.equal(acks.length, 5, 'every command that had arrived finished and was acknowledged before the close')
  // The app is closed: count through a connection of the test's own.
  const { db } = createDatabase((await testConfig(import.meta.url)).databaseUrl, 1)
  const row = await db.selectFrom('mirror_group_messages').select((eb) => eb.fn.countAll<number>().as('n'))
    .where('group_id', '=', toBin(groupId)).executeTakeFirstOrThrow()
  await db.destroy()
  t.equal(Number(row.n), 5, 'and they were committed')
})

t.test('a draining instance is not ready and refuses new upgrades', async (t) => {
  const app = await buildTestApp(t, import.meta.url)
  const alice = await registerUser(app)
  const url = new URL(await wsUrl(app))
  app.markDraining()
  const ready = await app.inject({ method: 'GET', url: '/ready' })
  t.equal(ready.statusCode, 503)
  url.searchParams.set('token', alice.token)
  const status = await new Promise<number>((resolve) => {
    const ws = new WebSocket(url)
    ws.on('unexpected-response', (_req, res) => { resolve(res.statusCode ?? 0) })
    ws.on('open', () => { resolve(101) })
    ws.on('error', () => {})
  })
  t.equal(status, 503)
})

t.test('events published in the last turn before close still reach the other instances', async (t) => {
  const closing = await buildApp(await testConfig(import.meta.url))
  await closing.ready()
  const staying = await buildTestApp(t, import.meta.url)
  const target = { groupId: randomUUID() }
  const received: ServerEvent[] = []
  let wake = (): void => {}
  staying.bus.subscribe(target, (event) => { received.push(event); wake() })
  const arrived = async (n: number): Promise<void> => {
    const deadline = Date.now() + 5000
    while (received.length < n && Date.now() < deadline) {
      await new Promise<void>((resolve) => { wake = resolve; setTimeout(resolve, 50) })
    }
  }
  const event = (n: number): ServerEvent => ({ type: 'chat:typing', payload: { groupId: target.groupId, userId: n, username: `u${n}`, isTyping: true } })
  // The subscription is in place once a first event makes it across.
  closing.bus.publish(target, event(0))
  await arrived(1)
  t.equal(received.length, 1)

  for (let n = 1; n <= 50; n++) closing.bus.publish(target, event(n))
  await closing.close()
  await arrived(51)
  t.equal(received.length, 51, 'none of the 50 was dropped by the shutdown')
})
