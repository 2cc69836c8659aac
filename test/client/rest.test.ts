/*
 * @parley/client's REST half against a real Parley: a typed method for every route of the API,
 * errors as ParleyError, one token refresh on a 401.
 */
import t from 'tap'
import { randomBytes } from 'node:crypto'
import sharp from 'sharp'
import { ParleyClient, ParleyError, type FetchLike } from '../../client/src/index.ts'
import { clientOf, signUp, startServer } from './harness.ts'

// The seed 01 §9 limits as they are (RATE_LIMIT_SCALE=1), so a 429 can be met.
const server = await startServer(t, import.meta.url, { RATE_LIMIT_SCALE: '1' })
const api = server.config.apiPrefix

/** The platform fetch, recording each request's method, path and status. */
function recordingFetch (): { fetch: FetchLike, calls: Array<{ method: string, path: string, status: number }> } {
  const calls: Array<{ method: string, path: string, status: number }> = []
  return {
    calls,
    fetch: async (url, init) => {
      const response = await fetch(url, init)
      calls.push({ method: init.method, path: new URL(url).pathname, status: response.status })
      return response
    }
  }
}

/** Every operation of the OpenAPI document under the API prefix, as `METHOD /path/{param}`. */
async function documentedRoutes (): Promise<string[]> {
  const document = await (await fetch(`${server.baseUrl}/docs/json`)).json() as { paths: Record<string, Record<string, unknown>> }
  return Object.entries(document.paths)
    .filter(([path]) => path.startsWith(`${api}/`))
    .flatMap(([path, item]) => Object.keys(item).filter((m) => ['get', 'post', 'put', 'patch', 'delete'].includes(m))
      // `/groups/` is the prefix's own route, served at `/groups` too.
      .map((method) => `${method.toUpperCase()} ${path.slice(api.length).replace(/(.)\/$/, '$1')}`))
    .sort()
}

/** The documented route a request hit: path parameters match one segment. */
function routeOf (routes: string[], method: string, path: string): string | undefined {
  const candidates = routes.filter((route) => {
    const [routeMethod, template = ''] = route.split(' ')
    const pattern = new RegExp(`^${template.replace(/\{[^}]+\}/g, '[^/]+')}$`)
    return routeMethod === method && pattern.test(path.slice(api.length))
  })
  // A static segment (/users/me) wins over a parameter (/users/{id}).
  return candidates.sort((a, b) => (a.match(/\{/g)?.length ?? 0) - (b.match(/\{/g)?.length ?? 0))[0]
}

t.test('every route of the REST API has a typed method that reaches it', async (t) => {
  const recording = recordingFetch()
  const alice = clientOf(t, server, { fetch: recording.fetch })
  const bob = clientOf(t, server, { fetch: recording.fetch })
  const aliceId = await signUp(alice, 'alice')
  const bobId = await signUp(bob, 'bob')
  const username = alice.user?.username ?? ''

  await alice.logout()
  await alice.login({ username, password: 'correct horse battery staple' })
  alice.useSession(await alice.rest.auth.refresh(alice.tokens?.refreshToken ?? ''))
  t.equal((await alice.rest.auth.me()).user.id, aliceId)
  t.ok((await alice.rest.auth.wsTicket()).ticket)

  t.match((await alice.rest.users.search({ q: username.slice(0, 6) })).users, [{ id: aliceId }])
  t.equal((await alice.rest.users.me()).user.id, aliceId)
  t.equal((await alice.rest.users.updateMe({ displayName: 'Alice A.' })).user.displayName, 'Alice A.')
  t.equal((await alice.rest.users.get(bobId)).user.id, bobId)
  t.same(await alice.rest.users.block(bobId, { reason: 'testing' }), { blocked: true, userId: bobId })
  t.match((await alice.rest.users.blocked()).users, [{ id: bobId, reason: 'testing' }])
  t.same(await alice.rest.users.unblock(bobId), { blocked: false, userId: bobId })

  const { group } = await alice.rest.groups.create({ name: 'Everything', type: 'public' })
  t.equal((await alice.rest.groups.get(group.id)).group.name, 'Everything')
  t.equal((await alice.rest.groups.update(group.id, { description: 'all of it' })).group.description, 'all of it')
  t.equal((await bob.rest.groups.join(group.id)).group.id, group.id)
  t.equal((await alice.rest.groups.members(group.id)).members.length, 2)
  t.equal((await alice.rest.groups.updateMember(group.id, bobId, { role: 'admin' })).member.role, 'admin')
  t.same(await alice.rest.groups.removeMember(group.id, bobId), { removed: true, userId: bobId })
  t.equal((await alice.rest.groups.addMember(group.id, { userId: bobId })).member.userId, bobId)
  const direct = (await alice.rest.groups.openDirect(bobId)).group
  t.equal(direct.type, 'direct')
  t.ok((await alice.rest.groups.list()).groups.length >= 2)

  const { message } = await alice.rest.chat.sendMessage(group.id, { content: 'hello everyone' })
  t.equal((await alice.rest.chat.listMessages(group.id)).messages[0]?.id, message.id)
  t.equal((await alice.rest.chat.getMessage(group.id, message.id)).message.content, 'hello everyone')
  t.equal((await alice.rest.chat.editMessage(group.id, message.id, { content: 'hello all' })).message.content, 'hello all')
  t.match((await bob.rest.chat.addReaction(group.id, message.id, '🎉')).reactions, [{ emoji: '🎉', count: 1 }])
  t.match((await bob.rest.chat.reactions(group.id, message.id)).reactions, [{ emoji: '🎉', hasReacted: true }])
  t.same((await bob.rest.chat.removeReaction(group.id, message.id, '🎉')).reactions, [])
  t.equal((await bob.rest.chat.unreadCount(group.id)).unreadCount, 1)
  t.same(await bob.rest.chat.markRead(group.id, message.id), { marked: true, upToMessageId: message.id })
  t.same(await alice.rest.chat.pin(group.id, message.id, 'read this'), { pinned: true, messageId: message.id })
  t.equal((await alice.rest.chat.pinned(group.id)).count, 1)
  t.same(await alice.rest.chat.unpin(group.id, message.id), { unpinned: true, messageId: message.id })
  t.equal((await alice.rest.chat.search(group.id, { q: 'hello', senderId: aliceId })).count, 1)
  t.equal((await alice.rest.chat.searchAll({ q: 'hello' })).messages[0]?.id, message.id)
  t.equal((await bob.rest.chat.editHistory(group.id, message.id)).versions[0]?.content, 'hello everyone')
  t.match((await alice.rest.chat.forward(group.id, message.id, { targetGroupIds: [direct.id] })).results, [{ groupId: direct.id, success: true }])
  const png = await sharp({ create: { width: 8, height: 8, channels: 3, background: '#0099ff' } }).png().toBuffer()
  const { attachment } = await alice.rest.attachments.upload(group.id, new File([png], 'dot.png', { type: 'image/png' }), { uploadId: 'sdk-upload' })
  t.match(attachment, { fileName: 'dot.png', fileType: 'image/png', fileSize: png.length, uploadId: 'sdk-upload' })
  t.same((await alice.rest.chat.sendMessage(group.id, { content: 'a dot', attachmentIds: [attachment.id] })).message.attachments?.map((a) => a.id), [attachment.id])
  // Downloads are fetched with the access token (an <img> cannot send it): the URL helpers say where.
  const bearer = { authorization: `Bearer ${bob.tokens?.token ?? ''}` }
  t.equal((await recording.fetch(bob.rest.attachments.url(attachment), { method: 'GET', headers: bearer })).status, 200)
  t.equal((await recording.fetch(bob.rest.attachments.thumbnailUrl(attachment) ?? '', { method: 'GET', headers: bearer })).status, 200)
  const { report } = await bob.rest.chat.report(group.id, message.id, { reason: 'spam', details: 'looks automated' })
  t.equal(report.messageId, message.id)
  // A system administrator, as `npm run admin -- grant` makes one.
  await server.app.db.insertInto('system_admins').values({ user_id: aliceId }).execute()
  t.match((await alice.rest.admin.reports({ status: 'pending' })).reports, [{ id: report.id }])
  t.match((await alice.rest.admin.review(report.id, { status: 'dismissed' })).report, { id: report.id, status: 'dismissed' })
  t.same(await alice.rest.chat.deleteMessage(group.id, message.id), { deleted: true, messageId: message.id })

  // Chat management (seed 05 §§1–5).
  t.match(await bob.rest.chat.setReadStatus(group.id, { isRead: false }), { groupId: group.id, unreadCount: 1 })
  // The direct chat holds alice's forward (above): both are read at once.
  t.match(await bob.rest.chat.setReadStatusOfMany([group.id, direct.id], true), { groups: [{ unreadCount: 0 }, { unreadCount: 0 }] })
  t.match(await bob.rest.chat.unreadCounts({ excludeMuted: true }), { totalUnread: 0 })
  t.match(await bob.rest.chat.unreadCountOf(group.id), { groupId: group.id, unreadCount: 0 })
  t.match(await bob.rest.chat.updatePreferences(group.id, { muteFor: '1h', pinned: true }), { groupId: group.id, pinned: true })
  t.match(await bob.rest.chat.preferences(group.id), { pinned: true, notificationLevel: 'all' })
  t.match(await bob.rest.chat.archive(group.id, true), { groupId: group.id, isArchived: true })
  t.match(await bob.rest.chat.clearHistory(group.id), { groupId: group.id, forEveryone: false })
  t.match((await alice.rest.presence.contacts([bobId])).presence, [{ userId: bobId }])
  t.match(await alice.rest.chat.deleteChat(direct.id), { groupId: direct.id, left: false })
  const { group: doomed } = await alice.rest.groups.create({ name: 'Doomed', maxMembers: 5 })
  t.same(await alice.rest.groups.delete(doomed.id), { deleted: true, groupId: doomed.id })

  const published = await alice.rest.keys.publish({ deviceId: 'laptop', publicKey: randomBytes(32).toString('base64') })
  t.equal(published.change, 'added')
  t.match((await bob.rest.keys.ofUser(aliceId)).keys, [{ keyId: published.keyId, isVerified: false }])
  t.match(await bob.rest.keys.verify({ userId: aliceId, keyId: published.keyId, fingerprint: published.fingerprint }), { keyId: published.keyId })
  t.match(await alice.rest.keys.revoke(published.keyId), { keyId: published.keyId })
  t.match((await bob.rest.keys.changes(aliceId)).changes.map((change: { change: string }) => change.change), ['added', 'revoked'])
  t.match(await alice.rest.auth.changePassword({ currentPassword: 'correct horse battery staple', newPassword: 'correct horse battery staple, again' }), { passwordChanged: true })

  // Alice added bob to the group above: his notification is made off the request path, so it may take a moment.
  let added = (await bob.rest.notifications.list({ unread: true })).notifications.find((n) => n.type === 'added_to_group')
  for (let i = 0; added === undefined && i < 200; i++) {
    await new Promise((resolve) => setTimeout(resolve, 25))
    added = (await bob.rest.notifications.list({ unread: true })).notifications.find((n) => n.type === 'added_to_group')
  }
  if (added === undefined) throw new Error('no added_to_group notification')
  t.match(await bob.rest.notifications.markRead(added.id), { notification: { id: added.id, isRead: true } })
  t.match(await bob.rest.notifications.markAllRead(), { unreadCount: 0 })
  t.same(await bob.rest.notifications.remove(added.id), { deleted: true, id: added.id })
  t.same(await bob.rest.notifications.preferences(), { mention: true, reply: true, reaction: true, addedToGroup: true })
  t.match(await bob.rest.notifications.updatePreferences({ reaction: false }), { reaction: false, mention: true })

  t.same(await bob.rest.presence.setTyping(group.id, true), { groupId: group.id, isTyping: true })
  t.match((await alice.rest.presence.typingUsers(group.id)).typingUsers, [{ userId: bobId }])
  t.match(await bob.rest.presence.updatePresence(group.id, { status: 'away' }), { groupId: group.id, status: 'away' })
  t.ok((await alice.rest.presence.presence(group.id)).presence.length >= 2)
  t.same(await bob.rest.groups.leave(group.id), { left: true, groupId: group.id })

  const routes = await documentedRoutes()
  const reached = new Set(recording.calls.filter((call) => call.status < 300).map((call) => routeOf(routes, call.method, call.path)))
  t.ok(routes.length >= 40, `${routes.length} documented routes`)
  t.same(routes.filter((route) => !reached.has(route)), [], 'no route without a method that reaches it')
})

t.test('an error answer is a ParleyError with code, status, details and validationErrors', async (t) => {
  const client = clientOf(t, server)
  const failure = await client.register({ email: 'not an email', username: 'x', password: 'short' }).catch((err: unknown) => err)
  t.ok(failure instanceof ParleyError)
  t.match(failure, { name: 'ParleyError', code: 'VALIDATION_ERROR', status: 400 })
  const fields = (failure as ParleyError).validationErrors.map((item) => item.field)
  t.ok(fields.some((field) => field.includes('email')), `fields: ${fields.join(', ')}`)
  t.equal((failure as ParleyError).retryable, false)

  await signUp(client)
  await t.rejects(client.rest.groups.get('00000000-0000-4000-8000-000000000000'), { code: 'NOT_FOUND', status: 404 })
  const owner = clientOf(t, server)
  await signUp(owner, 'owner')
  const { group } = await owner.rest.groups.create({ name: 'Private' })
  await t.rejects(client.rest.chat.listMessages(group.id), { code: 'FORBIDDEN', status: 403 })
})

t.test('a rate limit answers RATE_LIMIT_EXCEEDED with how long to wait', async (t) => {
  const client = clientOf(t, server)
  await signUp(client)
  const { group } = await client.rest.groups.create({ name: 'Searchable' })
  let limited: ParleyError | null = null
  for (let i = 0; i < 30 && limited === null; i++) {
    limited = await client.rest.chat.search(group.id, { q: 'anything' }).then(() => null, (err: ParleyError) => err)
  }
  t.match(limited, { code: 'RATE_LIMIT_EXCEEDED', status: 429, details: { retryAfter: Number } })
  t.ok((limited?.retryAfterMs ?? 0) > 0, 'retryAfterMs')
  t.equal(limited?.retryable, true)
})

t.test('an unreachable server is a NETWORK_ERROR', async (t) => {
  const client = new ParleyClient({ baseUrl: 'http://127.0.0.1:9' })
  t.teardown(() => { client.close() })
  await t.rejects(client.rest.auth.login({ username: 'nobody', password: 'x' }), { name: 'ParleyError', code: 'NETWORK_ERROR', status: 0 })
})

t.test('an access token the server refuses is renewed once and the request goes through', async (t) => {
  const first = clientOf(t, server)
  const userId = await signUp(first)
  const client = clientOf(t, server)
  const renewed: string[] = []
  client.on('tokens', ({ token }) => { renewed.push(token) })
  client.useSession({ token: 'expired.or.revoked', refreshToken: first.tokens?.refreshToken ?? '' })
  t.equal((await client.rest.auth.me()).user.id, userId)
  t.equal(renewed.length, 2, 'the stored tokens, then the renewed ones')
  t.not(client.tokens?.token, 'expired.or.revoked')
})

t.test('a refresh token the server refuses ends the session with authFailed', async (t) => {
  const client = clientOf(t, server)
  const ended: ParleyError[] = []
  client.on('authFailed', (error) => { ended.push(error) })
  client.useSession({ token: 'expired.or.revoked', refreshToken: 'a-refresh-token-that-was-never-issued' })
  await t.rejects(client.rest.auth.me(), { code: 'UNAUTHORIZED', status: 401 })
  t.equal(ended.length, 1)
  t.equal(client.tokens, null)
})
