import t from 'tap'
import type { Socket } from 'node:net'
import { buildTestApp } from '../helpers/app.ts'
import { registerUser } from '../helpers/users.ts'
import { createGroup } from '../helpers/api.ts'
import { connectWs } from '../helpers/ws.ts'

// DESIGN §6 "bounded everything": a client that stops reading is closed once the server holds
// WS_SEND_BUFFER_LIMIT_BYTES for it, and never slows the others down.
const LIMIT = 64 * 1024
const app = await buildTestApp(t, import.meta.url, { env: { WS_SEND_BUFFER_LIMIT_BYTES: String(LIMIT) } })

t.test('a client that stops reading is closed with 1013 while the others get every event', async (t) => {
  const alice = await registerUser(app)
  const bob = await registerUser(app)
  const groupId = await createGroup(app, alice, [bob])
  const slow = await connectWs(app, { token: alice.token })
  const healthy = await connectWs(app, { token: bob.token })
  t.teardown(async () => { await healthy.close() })
  for (const client of [slow, healthy]) await client.request('chat:join_group', { groupId })
  const slowId = app.gateway.connections().find((c) => c.userId === alice.user.id)?.id
  // The client stops reading from its TCP socket: the kernel buffers fill, then the server's.
  ;(slow.ws as unknown as { _socket: Socket })._socket.pause()

  const content = 'x'.repeat(8 * 1024)
  const frameSize = JSON.stringify({ type: 'chat:message_edited', payload: { messageId: groupId, groupId, editedAt: new Date().toISOString(), content } }).length
  let published = 0
  let peak = 0
  let slowClosing = false
  while (published < 6000 && !slowClosing) {
    for (let i = 0; i < 50; i++) {
      app.bus.publish({ groupId }, { type: 'chat:message_edited', payload: { messageId: groupId, groupId, editedAt: new Date().toISOString(), content } })
      published += 1
    }
    const info = app.gateway.connections().find((c) => c.id === slowId)
    peak = Math.max(peak, info?.bufferedAmount ?? 0)
    slowClosing = info === undefined || !info.open
    await new Promise((resolve) => setImmediate(resolve))
  }
  t.ok(slowClosing, `the slow connection was closed after ${published} events`)
  t.ok(peak <= LIMIT + frameSize, `the server held at most the limit plus one frame for it (peak ${peak} bytes)`)

  // The healthy client got every event, in the meantime.
  for (let i = 0; i < published; i++) await healthy.next('chat:message_edited')
  t.pass(`the healthy client received all ${published} events`)

  // Once it reads again, the slow client finds the close frame after what was buffered.
  ;(slow.ws as unknown as { _socket: Socket })._socket.resume()
  const closed = await slow.closed
  t.equal(closed.code, 1013)
  const edits = slow.frames.filter((f) => f.type === 'chat:message_edited').length
  t.ok(edits < published, `it missed events (${edits} of ${published}) and must rejoin with sinceSeq`)
})
