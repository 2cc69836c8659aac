import t from 'tap'
import { buildTestApp } from '../../helpers/app.ts'
import { toBin } from '../../../src/lib/ids.ts'
import type { ChatMessage, GetMessagesResponse } from '../../../schemas/chat.ts'
import { call, createChatGroup, dataOf, sendMessage } from '../../helpers/api.ts'

const app = await buildTestApp(t, import.meta.url, { env: { RATE_LIMIT_SCALE: '100' } })

const holds = (stored: Buffer | null, text: string): boolean => stored !== null && stored.includes(Buffer.from(text, 'utf8'))

t.test('content, metadata and edit history are never stored in plaintext', async (t) => {
  const g = await createChatGroup(app)
  const m = await sendMessage(app, g.owner, g.groupId, {
    content: 'PLAINTEXT-CONTENT-MARKER original',
    metadata: { custom: { note: 'PLAINTEXT-METADATA-MARKER' } }
  })
  dataOf(await call(app, g.owner, 'PUT', `/groups/${g.groupId}/chat/messages/${m.id}`, { content: 'PLAINTEXT-EDITED-MARKER now' }))
  const row = await app.db.selectFrom('mirror_group_messages').selectAll().where('id', '=', toBin(m.id)).executeTakeFirstOrThrow()
  for (const marker of ['PLAINTEXT-CONTENT-MARKER', 'PLAINTEXT-EDITED-MARKER', 'original', 'PLAINTEXT-METADATA-MARKER']) {
    t.notOk(holds(row.content, marker), `content column does not hold ${marker}`)
    t.notOk(holds(row.metadata, marker), `metadata column does not hold ${marker}`)
  }
  t.ok(row.metadata !== null, 'metadata is stored, sealed')
  const edits = await app.db.selectFrom('mirror_group_message_edits').selectAll().where('message_id', '=', toBin(m.id)).execute()
  t.equal(edits.length, 1)
  for (const edit of edits) {
    t.notOk(holds(edit.content, 'PLAINTEXT-CONTENT-MARKER'), 'edit history content is sealed')
    t.notOk(holds(edit.metadata, 'PLAINTEXT-METADATA-MARKER'), 'edit history metadata is sealed')
  }
  const tokens = await app.db.selectFrom('mirror_group_message_search_tokens').select('token').where('message_id', '=', toBin(m.id)).execute()
  t.ok(tokens.length > 0)
  t.ok(tokens.every((x) => x.token.length === 16 && !holds(x.token, 'now')), 'search tokens are keyed hashes')
  t.equal(m.encryptionKeyId, 'v1')
})

t.test('a ciphertext copied to another message does not decrypt: 500 with the route\'s failure code, never the plaintext', async (t) => {
  const g = await createChatGroup(app)
  const secret = await sendMessage(app, g.owner, g.groupId, 'the secret plan')
  const target = await sendMessage(app, g.owner, g.groupId, 'harmless findable words')
  const source = await app.db.selectFrom('mirror_group_messages').select(['content', 'content_key_version']).where('id', '=', toBin(secret.id)).executeTakeFirstOrThrow()
  await app.db.updateTable('mirror_group_messages').set({ content: source.content, content_key_version: source.content_key_version })
    .where('id', '=', toBin(target.id)).execute()

  const one = await call(app, g.owner, 'GET', `/groups/${g.groupId}/chat/messages/${target.id}`)
  t.equal(one.statusCode, 500)
  t.match(one.json(), { success: false, code: 'INTERNAL_ERROR', error: 'Internal server error' })
  t.notMatch(one.body, /secret plan/)

  const list = await call(app, g.owner, 'GET', `/groups/${g.groupId}/chat/messages`)
  t.equal(list.statusCode, 500)
  t.notMatch(list.body, /secret plan/)

  const found = await call(app, g.owner, 'GET', `/groups/${g.groupId}/chat/search?q=findable`)
  t.equal(found.statusCode, 500)
  t.match(found.json(), { code: 'SEARCH_FAILED' })
  t.notMatch(found.body, /secret plan/)

  const edit = await call(app, g.owner, 'PUT', `/groups/${g.groupId}/chat/messages/${target.id}`, { content: 'overwrite' })
  t.equal(edit.statusCode, 500)
  t.match(edit.json(), { code: 'EDIT_FAILED' })

  const pin = await call(app, g.owner, 'POST', `/groups/${g.groupId}/chat/messages/${target.id}/pin`, {})
  t.equal(pin.statusCode, 200, 'pinning does not read the content')
  const pins = await call(app, g.owner, 'GET', `/groups/${g.groupId}/chat/pinned`)
  t.equal(pins.statusCode, 500)
  t.match(pins.json(), { code: 'PIN_FAILED' })

  const intact = dataOf<{ message: ChatMessage }>(await call(app, g.owner, 'GET', `/groups/${g.groupId}/chat/messages/${secret.id}`)).message
  t.equal(intact.content, 'the secret plan', 'the original still decrypts in its own row')
})

t.test('a rotated key keeps old messages readable and new messages use the new version', async (t) => {
  const g = await createChatGroup(app)
  const before = await sendMessage(app, g.owner, g.groupId, { content: 'sealed with v1', metadata: { custom: { v: 1 } } })
  t.equal(before.encryptionKeyId, 'v1')
  t.equal(await app.keyring.rotate(g.groupId), 2)
  const after = await sendMessage(app, g.owner, g.groupId, 'sealed with v2')
  t.equal(after.encryptionKeyId, 'v2')
  const rows = await app.db.selectFrom('mirror_group_messages').select(['id', 'content_key_version']).where('group_id', '=', toBin(g.groupId)).orderBy('seq').execute()
  t.same(rows.map((r) => r.content_key_version), [1, 2])
  const page = dataOf<GetMessagesResponse>(await call(app, g.admin, 'GET', `/groups/${g.groupId}/chat/messages`))
  t.same(page.messages.map((m) => [m.content, m.encryptionKeyId]), [['sealed with v2', 'v2'], ['sealed with v1', 'v1']])
  t.same(page.messages[1]?.metadata, { custom: { v: 1 } })
  const edited = dataOf<{ message: ChatMessage }>(await call(app, g.owner, 'PUT', `/groups/${g.groupId}/chat/messages/${before.id}`, { content: 'now v2 as well' }))
  t.equal(edited.message.encryptionKeyId, 'v2', 'an edit reseals with the newest key')
})
