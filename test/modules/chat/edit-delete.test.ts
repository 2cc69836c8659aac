import t from 'tap'
import { buildTestApp } from '../../helpers/app.ts'
import { toBin } from '../../../src/lib/ids.ts'
import type { ChatMessage, SearchMessagesResponse } from '../../../schemas/chat.ts'
import { call, createChatGroup, dataOf, sendMessage } from '../../helpers/api.ts'
import { eventsOfType, recordEvents } from '../../helpers/events.ts'

const app = await buildTestApp(t, import.meta.url, { env: { RATE_LIMIT_SCALE: '100' } })

t.test('the sender edits a message: new content, isEdited, editedAt and a chat:message_edited event', async (t) => {
  const g = await createChatGroup(app)
  const m = await sendMessage(app, g.owner, g.groupId, 'first draft')
  const events = recordEvents(app, { groupId: g.groupId }, t)
  const res = await call(app, g.owner, 'PUT', `/groups/${g.groupId}/chat/messages/${m.id}`, { content: 'final words' })
  t.equal(res.statusCode, 200)
  const edited = res.json().data.message as ChatMessage
  t.match(edited, { id: m.id, content: 'final words', isEdited: true, seq: m.seq, createdAt: m.createdAt })
  t.type(edited.editedAt, 'string')
  t.equal(edited.updatedAt, edited.editedAt)
  t.same(eventsOfType(events, 'chat:message_edited').map((e) => e.payload), [{ messageId: m.id, groupId: g.groupId, editedAt: edited.editedAt, senderUserId: g.owner.user.id }])
  t.notMatch(JSON.stringify(events), /final words/, 'no content on the bus')
  const fetched = dataOf<{ message: ChatMessage }>(await call(app, g.admin, 'GET', `/groups/${g.groupId}/chat/messages/${m.id}`)).message
  t.equal(fetched.content, 'final words')
})

t.test('every edit keeps the previous version in the edit history, sealed, with its version number', async (t) => {
  const g = await createChatGroup(app)
  const m = await sendMessage(app, g.owner, g.groupId, {
    content: 'version one',
    metadata: { formatting: { bold: [[0, 7]] } }
  })
  dataOf(await call(app, g.owner, 'PUT', `/groups/${g.groupId}/chat/messages/${m.id}`, { content: 'version two' }))
  dataOf(await call(app, g.owner, 'PUT', `/groups/${g.groupId}/chat/messages/${m.id}`, { content: 'v3' }))
  const rows = await app.db.selectFrom('mirror_group_message_edits').selectAll().where('message_id', '=', toBin(m.id)).orderBy('version').execute()
  t.same(rows.map((r) => r.version), [1, 2])
  t.same(rows.map((r) => r.replaced_by), [g.owner.user.id, g.owner.user.id])
  const opened = await Promise.all(rows.map(async (r) => await app.keyring.decrypt(g.groupId, { ciphertext: r.content, keyVersion: r.content_key_version }, { recordId: m.id, field: `edit:${r.version}` })))
  t.same(opened, ['version one', 'version two'])
  const first = rows[0]!
  t.ok(first.metadata !== null)
  const firstMetadata = await app.keyring.decrypt(g.groupId, { ciphertext: first.metadata as Buffer, keyVersion: first.metadata_key_version as number }, { recordId: m.id, field: 'edit-metadata:1' })
  t.same(JSON.parse(firstMetadata), { formatting: { bold: [[0, 7]] } })
})

t.test('concurrent edits all land, each keeping the version before it', async (t) => {
  const g = await createChatGroup(app)
  const m = await sendMessage(app, g.owner, g.groupId, 'v0')
  const results = await Promise.all([1, 2, 3].map(async (i) => await call(app, g.owner, 'PUT', `/groups/${g.groupId}/chat/messages/${m.id}`, { content: `v${i}` })))
  t.same(results.map((r) => r.statusCode), [200, 200, 200])
  const rows = await app.db.selectFrom('mirror_group_message_edits').selectAll().where('message_id', '=', toBin(m.id)).orderBy('version').execute()
  t.same(rows.map((r) => r.version), [1, 2, 3])
  const versions = await Promise.all(rows.map(async (r) => await app.keyring.decrypt(g.groupId, { ciphertext: r.content, keyVersion: r.content_key_version }, { recordId: m.id, field: `edit:${r.version}` })))
  const current = dataOf<{ message: ChatMessage }>(await call(app, g.owner, 'GET', `/groups/${g.groupId}/chat/messages/${m.id}`)).message.content
  t.equal(versions[0], 'v0')
  t.same([...versions, current].sort(), ['v0', 'v1', 'v2', 'v3'], 'no version was lost')
})

t.test('an edit without metadata keeps the ranges that still fit the new content', async (t) => {
  const g = await createChatGroup(app)
  const m = await sendMessage(app, g.owner, g.groupId, {
    content: 'hello wonderful world',
    metadata: { formatting: { bold: [[0, 5]], italic: [[6, 21]] }, custom: { a: 1 } }
  })
  const edited = dataOf<{ message: ChatMessage }>(await call(app, g.owner, 'PUT', `/groups/${g.groupId}/chat/messages/${m.id}`, { content: 'hello there' })).message
  t.same(edited.metadata, { formatting: { bold: [[0, 5]], italic: [] }, custom: { a: 1 } })
  const replaced = dataOf<{ message: ChatMessage }>(await call(app, g.owner, 'PUT', `/groups/${g.groupId}/chat/messages/${m.id}`, { content: 'hello there', metadata: { custom: { b: 2 } } })).message
  t.same(replaced.metadata, { custom: { b: 2 } }, 'given metadata replaces the old')
  const bad = await call(app, g.owner, 'PUT', `/groups/${g.groupId}/chat/messages/${m.id}`, { content: 'short', metadata: { formatting: { bold: [[0, 50]] } } })
  t.equal(bad.statusCode, 400)
})

t.test('only the sender can edit a message', async (t) => {
  const g = await createChatGroup(app)
  const m = await sendMessage(app, g.members[0]!, g.groupId, 'mine')
  for (const who of [g.owner, g.admin, g.members[1]!]) {
    const res = await call(app, who, 'PUT', `/groups/${g.groupId}/chat/messages/${m.id}`, { content: 'hijacked' })
    t.equal(res.statusCode, 403)
    t.match(res.json(), { success: false, code: 'FORBIDDEN' })
  }
})

t.test('a deleted message cannot be edited', async (t) => {
  const g = await createChatGroup(app)
  const m = await sendMessage(app, g.owner, g.groupId, 'gone soon')
  dataOf(await call(app, g.owner, 'DELETE', `/groups/${g.groupId}/chat/messages/${m.id}`))
  const res = await call(app, g.owner, 'PUT', `/groups/${g.groupId}/chat/messages/${m.id}`, { content: 'revived' })
  t.equal(res.statusCode, 404)
  t.match(res.json(), { code: 'NOT_FOUND' })
})

t.test('edit input is validated: content 1-10000 characters, unknown message 404', async (t) => {
  const g = await createChatGroup(app)
  const m = await sendMessage(app, g.owner, g.groupId, 'x')
  t.equal((await call(app, g.owner, 'PUT', `/groups/${g.groupId}/chat/messages/${m.id}`, { content: '' })).statusCode, 400)
  t.equal((await call(app, g.owner, 'PUT', `/groups/${g.groupId}/chat/messages/${m.id}`, { content: 'y'.repeat(10_001) })).statusCode, 400)
  t.equal((await call(app, g.owner, 'PUT', `/groups/${g.groupId}/chat/messages/${m.id}`, {})).statusCode, 400)
  t.equal((await call(app, g.owner, 'PUT', `/groups/${g.groupId}/chat/messages/01890a5d-ac96-774b-bcce-b302099a8057`, { content: 'z' })).statusCode, 404)
})

t.test('an edit replaces the message\'s search tokens', async (t) => {
  const g = await createChatGroup(app)
  const m = await sendMessage(app, g.owner, g.groupId, 'apples and pears')
  dataOf(await call(app, g.owner, 'PUT', `/groups/${g.groupId}/chat/messages/${m.id}`, { content: 'bananas only' }))
  const search = async (q: string): Promise<SearchMessagesResponse> => dataOf<SearchMessagesResponse>(await call(app, g.owner, 'GET', `/groups/${g.groupId}/chat/search?q=${q}`))
  t.equal((await search('apples')).count, 0)
  t.same((await search('bananas')).messages.map((x) => x.id), [m.id])
})

t.test('the sender deletes a message: {deleted, messageId} and chat:message_deleted', async (t) => {
  const g = await createChatGroup(app)
  const m = await sendMessage(app, g.members[0]!, g.groupId, 'delete me')
  const events = recordEvents(app, { groupId: g.groupId }, t)
  const res = await call(app, g.members[0]!, 'DELETE', `/groups/${g.groupId}/chat/messages/${m.id}`)
  t.equal(res.statusCode, 200)
  t.same(res.json().data, { deleted: true, messageId: m.id })
  t.same(eventsOfType(events, 'chat:message_deleted').map((e) => e.payload), [{ messageId: m.id, groupId: g.groupId, deletedBy: g.members[0]!.user.id }])
  const fetched = dataOf<{ message: ChatMessage }>(await call(app, g.owner, 'GET', `/groups/${g.groupId}/chat/messages/${m.id}`)).message
  t.match(fetched, { isDeleted: true, content: '', metadata: {} })
  t.type(fetched.deletedAt, 'string')
})

t.test('a deleted message keeps its sealed content in the row and is no longer searchable', async (t) => {
  const g = await createChatGroup(app)
  const m = await sendMessage(app, g.owner, g.groupId, 'compliance record')
  dataOf(await call(app, g.owner, 'DELETE', `/groups/${g.groupId}/chat/messages/${m.id}`))
  const row = await app.db.selectFrom('mirror_group_messages').selectAll().where('id', '=', toBin(m.id)).executeTakeFirstOrThrow()
  t.equal(row.is_deleted, true)
  t.equal(row.deleted_by, g.owner.user.id)
  t.equal(await app.keyring.decrypt(g.groupId, { ciphertext: row.content, keyVersion: row.content_key_version }, { recordId: m.id, field: 'content' }), 'compliance record')
  const tokens = await app.db.selectFrom('mirror_group_message_search_tokens').select('token').where('message_id', '=', toBin(m.id)).execute()
  t.equal(tokens.length, 0)
})

t.test('a group admin or the owner deletes anyone\'s message', async (t) => {
  const g = await createChatGroup(app)
  const a = await sendMessage(app, g.members[0]!, g.groupId, 'one')
  const b = await sendMessage(app, g.members[0]!, g.groupId, 'two')
  t.equal((await call(app, g.admin, 'DELETE', `/groups/${g.groupId}/chat/messages/${a.id}`)).statusCode, 200)
  t.equal((await call(app, g.owner, 'DELETE', `/groups/${g.groupId}/chat/messages/${b.id}`)).statusCode, 200)
})

t.test('a plain member cannot delete someone else\'s message', async (t) => {
  const g = await createChatGroup(app)
  const m = await sendMessage(app, g.owner, g.groupId, 'stays')
  const res = await call(app, g.members[1]!, 'DELETE', `/groups/${g.groupId}/chat/messages/${m.id}`)
  t.equal(res.statusCode, 403)
  t.match(res.json(), { code: 'FORBIDDEN' })
  const fetched = dataOf<{ message: ChatMessage }>(await call(app, g.owner, 'GET', `/groups/${g.groupId}/chat/messages/${m.id}`)).message
  t.equal(fetched.isDeleted, false)
})

t.test('deleting a deleted message succeeds again without a second event', async (t) => {
  const g = await createChatGroup(app)
  const m = await sendMessage(app, g.owner, g.groupId, 'twice')
  const events = recordEvents(app, { groupId: g.groupId }, t)
  dataOf(await call(app, g.owner, 'DELETE', `/groups/${g.groupId}/chat/messages/${m.id}`))
  const again = await call(app, g.owner, 'DELETE', `/groups/${g.groupId}/chat/messages/${m.id}`)
  t.equal(again.statusCode, 200)
  t.same(again.json().data, { deleted: true, messageId: m.id })
  t.equal(eventsOfType(events, 'chat:message_deleted').length, 1)
})

t.test('deleting an unknown message or one of another group is not found', async (t) => {
  const g = await createChatGroup(app)
  const other = await createChatGroup(app)
  const foreign = await sendMessage(app, other.owner, other.groupId, 'theirs')
  const res = await call(app, g.owner, 'DELETE', `/groups/${g.groupId}/chat/messages/${foreign.id}`)
  t.equal(res.statusCode, 404)
  const still = dataOf<{ message: ChatMessage }>(await call(app, other.owner, 'GET', `/groups/${other.groupId}/chat/messages/${foreign.id}`)).message
  t.equal(still.isDeleted, false)
})

t.test('a deleted pinned message leaves the pinned list', async (t) => {
  const g = await createChatGroup(app)
  const m = await sendMessage(app, g.owner, g.groupId, 'pinned then deleted')
  dataOf(await call(app, g.owner, 'POST', `/groups/${g.groupId}/chat/messages/${m.id}/pin`, {}))
  dataOf(await call(app, g.owner, 'DELETE', `/groups/${g.groupId}/chat/messages/${m.id}`))
  t.same(dataOf(await call(app, g.owner, 'GET', `/groups/${g.groupId}/chat/pinned`)), { pinnedMessages: [], count: 0 })
})
