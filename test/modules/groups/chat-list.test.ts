import t from 'tap'
import type { FastifyInstance } from 'fastify'
import { toBin } from '../../../src/lib/ids.ts'
import { createGroup } from '../../helpers/api.ts'
import { buildTestApp } from '../../helpers/app.ts'
import { registerUser, type TestUser } from '../../helpers/users.ts'

// One app for the whole file: every test makes its own users and groups.
const app = await buildTestApp(t, import.meta.url)

async function list (app: FastifyInstance, as: TestUser, query = '') {
  return await app.inject({ method: 'GET', url: `${app.config.apiPrefix}/groups${query}`, headers: as.auth })
}

/** Stands in for the messages area, which moves last_activity_at when a message is sent. */
async function setActivity (app: FastifyInstance, groupId: string, iso: string): Promise<void> {
  await app.db.updateTable('mirror_groups').set({ last_activity_at: new Date(iso) }).where('id', '=', toBin(groupId)).execute()
}

const idsOf = (body: { data: { groups: Array<{ id: string }> } }): string[] => body.data.groups.map((g) => g.id)

t.test('GET /groups lists the caller\'s chats with their own state, and nobody else\'s', async (t) => {
  const [alice, bob, carol] = [await registerUser(app), await registerUser(app), await registerUser(app)]
  const shared = await createGroup(app, alice, [], { name: 'Shared', memberIds: [bob.user.id] })
  await createGroup(app, carol, [], { name: 'Not mine' })
  const res = await list(app, bob)
  t.equal(res.statusCode, 200)
  t.same(res.json().data, {
    groups: [{
      ...res.json().data.groups[0],
      id: shared,
      name: 'Shared',
      type: 'group',
      memberCount: 2,
      myRole: 'member',
      lastMessage: null,
      unreadCount: 0,
      archived: false,
      pinned: false,
      mutedUntil: null
    }],
    nextCursor: null,
    hasMore: false
  })
})

t.test('GET /groups puts the most recent activity first, ties in a stable order', async (t) => {
  const alice = await registerUser(app)
  const old = await createGroup(app, alice, [], { name: 'old' })
  const recent = await createGroup(app, alice, [], { name: 'recent' })
  const middle = await createGroup(app, alice, [], { name: 'middle' })
  const tieA = await createGroup(app, alice, [], { name: 'tie a' })
  const tieB = await createGroup(app, alice, [], { name: 'tie b' })
  await setActivity(app, old, '2024-01-01T00:00:00.000Z')
  await setActivity(app, middle, '2024-06-01T00:00:00.000Z')
  await setActivity(app, recent, '2024-12-01T00:00:00.000Z')
  await setActivity(app, tieA, '2024-03-01T00:00:00.000Z')
  await setActivity(app, tieB, '2024-03-01T00:00:00.000Z')
  const ids = idsOf((await list(app, alice)).json())
  // Group ids are UUIDv7, so among equal activity times the later-created group comes first.
  t.same(ids, [recent, middle, tieB, tieA, old])
})

t.test('GET /groups pages with an opaque cursor, with no gap and no duplicate', async (t) => {
  const alice = await registerUser(app)
  const created: string[] = []
  for (let i = 0; i < 11; i += 1) created.push(await createGroup(app, alice, [], { name: `g${i}` }))
  // Several groups share an activity time so pages must break ties by id.
  for (const [i, id] of created.entries()) await setActivity(app, id, `2024-01-0${1 + Math.floor(i / 3)}T00:00:00.000Z`)
  const all = idsOf((await list(app, alice, '?limit=100')).json())
  t.equal(all.length, 11)

  const pages: string[][] = []
  let cursor: string | null = null
  do {
    const res = await list(app, alice, `?limit=4${cursor !== null ? `&cursor=${encodeURIComponent(cursor)}` : ''}`)
    t.equal(res.statusCode, 200)
    const data = res.json().data as { groups: Array<{ id: string }>, nextCursor: string | null, hasMore: boolean }
    pages.push(data.groups.map((g) => g.id))
    t.equal(data.hasMore, data.nextCursor !== null)
    cursor = data.nextCursor
  } while (cursor !== null && pages.length < 10)
  t.same(pages.map((p) => p.length), [4, 4, 3])
  t.same(pages.flat(), all, 'the pages together are the whole list, in order')
  t.equal(new Set(pages.flat()).size, 11)
})

t.test('an exactly full last page says there is no more', async (t) => {
  const alice = await registerUser(app)
  for (let i = 0; i < 4; i += 1) await createGroup(app, alice, [], { name: `g${i}` })
  const first = (await list(app, alice, '?limit=2')).json().data
  t.equal(first.hasMore, true)
  const second = (await list(app, alice, `?limit=2&cursor=${encodeURIComponent(first.nextCursor)}`)).json().data
  t.equal(second.groups.length, 2)
  t.equal(second.hasMore, false)
  t.equal(second.nextCursor, null)
})

t.test('GET /groups lists 20 chats by default', async (t) => {
  const alice = await registerUser(app)
  for (let i = 0; i < 21; i += 1) await createGroup(app, alice, [], { name: `g${i}` })
  const data = (await list(app, alice)).json().data
  t.equal(data.groups.length, 20)
  t.equal(data.hasMore, true)
})

t.test('archived chats are listed only with ?archived=true', async (t) => {
  const [alice, bob] = [await registerUser(app), await registerUser(app)]
  const kept = await createGroup(app, alice, [], { name: 'kept', memberIds: [bob.user.id] })
  const archived = await createGroup(app, alice, [], { name: 'archived', memberIds: [bob.user.id] })
  // The chat-management area archives through PUT .../chat/archive; it sets this column.
  await app.db.updateTable('mirror_group_members').set({ archived: true })
    .where('group_id', '=', toBin(archived)).where('user_id', '=', alice.user.id).execute()
  t.same(idsOf((await list(app, alice)).json()), [kept])
  t.same(idsOf((await list(app, alice, '?archived=false')).json()), [kept])
  const onlyArchived = (await list(app, alice, '?archived=true')).json()
  t.same(idsOf(onlyArchived), [archived])
  t.equal(onlyArchived.data.groups[0].archived, true)
  t.same(idsOf((await list(app, bob)).json()).sort(), [kept, archived].sort(), 'archiving is per user')
})

t.test('a group the caller left is no longer in their list', async (t) => {
  const [alice, bob] = [await registerUser(app), await registerUser(app)]
  const groupId = await createGroup(app, alice, [], { name: 'Team', memberIds: [bob.user.id] })
  await app.inject({ method: 'POST', url: `${app.config.apiPrefix}/groups/${groupId}/leave`, headers: bob.auth })
  t.same(idsOf((await list(app, bob)).json()), [])
})

t.test('GET /groups refuses a forged cursor and a limit out of 1-100 with 400', async (t) => {
  const alice = await registerUser(app)
  const forged = Buffer.from('yesterday:whatever').toString('base64url')
  for (const query of [`?cursor=${forged}`, '?cursor=%21%21%21', `?cursor=${'a'.repeat(129)}`, '?limit=0', '?limit=101', '?archived=maybe']) {
    const res = await list(app, alice, query)
    t.equal(res.statusCode, 400, query.slice(0, 30))
    t.match(res.json(), { success: false, code: 'VALIDATION_ERROR' })
  }
})
