/*
 * A user in many groups, against the seed 01 §9 WebSocket limits as they are (RATE_LIMIT_SCALE=1:
 * 50 frames per second per connection, and a 4429 close for a connection that keeps bursting):
 * the client paces its joins instead of flooding the socket.
 */
import t from 'tap'
import { clientOf, signUp, startServer } from './harness.ts'

const GROUPS = 110
const server = await startServer(t, import.meta.url, { RATE_LIMIT_SCALE: '1' })

t.test(`a client following ${GROUPS} groups joins every one without being rate limited or closed`, async (t) => {
  const member = clientOf(t, server)
  const memberId = await signUp(member, 'member')
  // Two creators: each stays under the REST budget of 100 requests a minute.
  const creators = [clientOf(t, server), clientOf(t, server)]
  for (const creator of creators) await signUp(creator, 'creator')
  const groupIds: string[] = []
  for (let i = 0; i < GROUPS; i++) {
    const creator = creators[i % creators.length] ?? creators[0]
    const { group } = await creator!.rest.groups.create({ name: `Group ${i}`, memberIds: [memberId] })
    groupIds.push(group.id)
  }

  const closes: number[] = []
  const lost: string[] = []
  const refused: string[] = []
  member.on('disconnected', ({ code }) => { closes.push(code) })
  member.on('groupUnavailable', ({ error }) => { lost.push(error.code) })
  member.on('chat:error', ({ code }) => { refused.push(code ?? '') })
  await member.connect()
  const started = Date.now()
  await Promise.all(groupIds.map(async (groupId) => { await member.joinGroup(groupId) }))
  t.same(member.joinedGroups.sort(), [...groupIds].sort(), 'every group joined')
  t.same(closes, [], 'the connection was never closed')
  t.same(lost, [], 'no group given up')
  t.same(refused, [], 'no frame refused')
  t.ok(Date.now() - started >= 4000, `paced: ${Date.now() - started} ms for ${GROUPS} joins at 20 a second`)
})
