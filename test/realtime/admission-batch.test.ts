import t from 'tap'
import { buildTestApp } from '../helpers/app.ts'
import { registerUser } from '../helpers/users.ts'
import { connectWs } from '../helpers/ws.ts'
import { call, dataOf } from '../helpers/api.ts'

// Issue 16.3: what admission reads per user (block list, unread notifications, the session) is
// one query for every connection admitted in the same turn. Each connection still gets its own
// user's answers, and an ended session is still refused.
const app = await buildTestApp(t, import.meta.url, { env: { RATE_LIMIT_SCALE: '100' } })

t.test('the batched lookups answer per user', async (t) => {
  const [alice, bob, carol] = await Promise.all([registerUser(app), registerUser(app), registerUser(app)])
  dataOf(await call(app, alice, 'POST', `/users/${bob.user.id}/block`))
  dataOf(await call(app, alice, 'POST', `/users/${carol.user.id}/block`))
  dataOf(await call(app, carol, 'POST', `/users/${alice.user.id}/block`))
  const blocked = await app.userService.blockedIdsOfMany([alice.user.id, bob.user.id, carol.user.id])
  t.same([...(blocked.get(alice.user.id) ?? [])].sort((a, b) => a - b), [bob.user.id, carol.user.id].sort((a, b) => a - b))
  t.equal(blocked.get(bob.user.id), undefined, 'none blocked: missing, the batch falls back to []')
  t.same(blocked.get(carol.user.id), [alice.user.id])
  t.same(await app.notificationService.unreadCounts([]), new Map())
  t.same([...(await app.notificationService.unreadCounts([alice.user.id, bob.user.id])).entries()], [], 'no notifications: no rows')
})

t.test('connections opened together are each admitted with their own user, and a logged-out one is refused', async (t) => {
  const users = await Promise.all(Array.from({ length: 6 }, async () => await registerUser(app)))
  const ended = users[5]
  if (ended === undefined) throw new Error('no user')
  t.equal((await app.inject({ method: 'POST', url: `${app.config.apiPrefix}/auth/logout`, headers: ended.auth })).statusCode, 200)
  const clients = await Promise.all(users.map(async (user) => await connectWs(app, { token: user.token, allowClose: true })))
  for (const client of clients.slice(0, 5)) t.same((await client.next('chat:sync')).payload, { groups: [], unreadNotifications: 0 })
  t.equal((await clients[5]?.closed)?.code, 4001)
  const ids = app.gateway.connections().map((c) => c.userId)
  for (const user of users.slice(0, 5)) t.ok(ids.includes(user.user.id), `user ${user.user.id} admitted`)
  await Promise.all(clients.slice(0, 5).map(async (client) => { await client.close() }))
})
