import t from 'tap'
import { mkdtemp, rm } from 'node:fs/promises'
import { request as httpRequest, type IncomingMessage } from 'node:http'
import type { AddressInfo } from 'node:net'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import sharp from 'sharp'
import type { ChatAttachment, ChatMessage } from '../../../schemas/chat.ts'
import { toBin } from '../../../src/lib/ids.ts'
import { buildTestApp } from '../../helpers/app.ts'
import { ManualClock } from '../../helpers/clock.ts'
import { registerUser } from '../../helpers/users.ts'
import { call, createChatGroup, createDirectChat, dataOf } from '../../helpers/api.ts'
import { fetchAttachment, filesUnder, mp4Like, storedBytes, upload, uploaded } from '../../helpers/attachments.ts'
import { eventsOfType, recordEvents } from '../../helpers/events.ts'
import { connectWs } from '../../helpers/ws.ts'

const MAX_BYTES = 300_000
const dir = await mkdtemp(join(tmpdir(), 'parley-attachments-'))
t.teardown(async () => { await rm(dir, { recursive: true, force: true }) })
const clock = new ManualClock()
const app = await buildTestApp(t, import.meta.url, {
  clock,
  env: { ATTACHMENTS_DIR: dir, ATTACHMENT_MAX_BYTES: String(MAX_BYTES), RATE_LIMIT_SCALE: '100' }
})
const api = app.config.apiPrefix
const { groupId, owner, admin, members, outsider } = await createChatGroup(app, { memberCount: 2 })
const [alice, bob] = members as [typeof owner, typeof owner]

const rowCount = async (): Promise<number> => Number((await app.db.selectFrom('mirror_group_chat_attachments').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n)
const redPng = async (width: number, height: number): Promise<Buffer> =>
  await sharp({ create: { width, height, channels: 3, background: { r: 200, g: 30, b: 30 } } }).png().toBuffer()
const textFile = (text: string): { name: string, content: Buffer, type: string } => ({ name: 'notes.txt', content: Buffer.from(text), type: 'text/plain' })

let sends = 0
async function sendWith (who: typeof owner, attachmentIds: string[], extra: Record<string, unknown> = {}): Promise<{ status: number, body: Record<string, unknown> }> {
  // Distinct texts: the same text twice within 5 s is refused as spam.
  sends += 1
  const res = await call(app, who, 'POST', `/groups/${groupId}/chat/messages`, { content: `see attached (${sends})`, attachmentIds, ...extra })
  return { status: res.statusCode, body: res.json() as Record<string, unknown> }
}

t.test('an image is typed by its bytes, measured and thumbnailed: 201 with the ChatAttachment', async (t) => {
  const png = await redPng(640, 480)
  const attachment = await uploaded(app, alice, groupId, { name: 'holiday.jpg', content: png, type: 'application/x-msdownload' })
  t.match(attachment, {
    messageId: '',
    fileName: 'holiday.jpg',
    fileType: 'image/png',
    fileSize: png.length,
    width: 640,
    height: 480,
    isEncrypted: true,
    processingStatus: 'completed',
    groupId,
    uploaderUserId: alice.user.id
  })
  t.equal(attachment.filePath, `${api}/groups/${groupId}/chat/attachments/${attachment.id}`)
  t.equal(attachment.thumbnailPath, `${attachment.filePath}/thumbnail`)

  const file = await fetchAttachment(app, alice, attachment.filePath)
  t.equal(file.statusCode, 200)
  t.equal(file.headers['content-type'], 'image/png')
  t.equal(file.headers['x-content-type-options'], 'nosniff')
  t.ok(file.rawPayload.equals(png), 'the download is the upload, byte for byte')

  const thumbnail = await fetchAttachment(app, alice, attachment.thumbnailPath as string)
  t.equal(thumbnail.statusCode, 200)
  t.equal(thumbnail.headers['content-type'], 'image/webp')
  const meta = await sharp(thumbnail.rawPayload).metadata()
  t.match(meta, { format: 'webp', width: 320, height: 240 })
})

t.test('an .exe renamed .png is refused by its content (415) and nothing is kept', async (t) => {
  const before = await rowCount()
  const exe = Buffer.concat([Buffer.from('MZ'), Buffer.alloc(4096, 0x90)])
  const res = await upload(app, alice, groupId, { name: 'cute-cat.png', content: exe, type: 'image/png' })
  t.equal(res.statusCode, 415)
  t.match(res.json(), { success: false, code: 'UNSUPPORTED_MEDIA_TYPE', details: { detectedType: 'application/x-msdownload' } })
  t.equal(await rowCount(), before)
  t.notOk((await filesUnder(dir)).some((path) => path.endsWith('.part')), 'no partial file left')
})

t.test('a file over ATTACHMENT_MAX_BYTES answers 413 and leaves nothing on disk or in the table', async (t) => {
  const rows = await rowCount()
  const files = (await filesUnder(dir)).length
  const res = await upload(app, alice, groupId, { name: 'big.mp4', content: mp4Like(MAX_BYTES) })
  t.equal(res.statusCode, 413)
  t.match(res.json(), { success: false, code: 'PAYLOAD_TOO_LARGE' })
  t.equal(await rowCount(), rows)
  t.equal((await filesUnder(dir)).length, files)

  const exactly = await upload(app, alice, groupId, { name: 'limit.mp4', content: mp4Like(MAX_BYTES - 24) })
  t.equal(exactly.statusCode, 201, 'a file of exactly the limit is accepted')
})

t.test('a retried upload id answers with the first upload and stores nothing again', async (t) => {
  const first = await uploaded(app, alice, groupId, textFile('first version'), { fields: { uploadId: 'up-1' } })
  const rows = await rowCount()
  const files = (await filesUnder(dir)).length
  const again = await uploaded(app, alice, groupId, textFile('second version, retried'), { fields: { uploadId: 'up-1' } })
  t.same(again, first)
  t.equal(first.uploadId, 'up-1')
  t.equal(await rowCount(), rows)
  t.equal((await filesUnder(dir)).length, files)
  const other = await uploaded(app, bob, groupId, textFile('bob\'s own'), { fields: { uploadId: 'up-1' } })
  t.not(other.id, first.id, 'upload ids are per uploader')
})

t.test('bytes at rest hold no plaintext, and the name is sealed too', async (t) => {
  const marker = 'PARLEY-PLAINTEXT-MARKER-7f3a'
  const text = Array.from({ length: 4000 }, (_, i) => `${marker} line ${i}\n`).join('')
  const attachment = await uploaded(app, alice, groupId, { name: `${marker}.txt`, content: Buffer.from(text) })
  t.equal(attachment.fileType, 'text/plain')
  const download = await fetchAttachment(app, alice, attachment.filePath)
  t.equal(download.headers['content-type'], 'text/plain; charset=utf-8')
  t.equal(download.body, text)
  for (const bytes of await storedBytes(dir)) t.equal(bytes.indexOf(marker), -1)
  const row = await app.db.selectFrom('mirror_group_chat_attachments').select('file_name').where('id', '=', toBin(attachment.id)).executeTakeFirstOrThrow()
  t.equal(row.file_name.indexOf(marker), -1, 'the stored file name is sealed')
})

t.test('Range requests answer 206 with the slice, across chunks; 416 past the end; ETag and 304', async (t) => {
  const content = mp4Like(200_000)
  const attachment = await uploaded(app, alice, groupId, { name: 'clip “one”.mp4', content })
  t.equal(attachment.fileType, 'video/mp4')
  t.equal((await sendWith(alice, [attachment.id])).status, 201)
  const full = await fetchAttachment(app, bob, attachment.filePath)
  t.equal(full.statusCode, 200)
  t.equal(full.headers['accept-ranges'], 'bytes')
  t.equal(full.headers['content-disposition'], 'inline; filename="clip _one_.mp4"; filename*=UTF-8\'\'clip%20%E2%80%9Cone%E2%80%9D.mp4')

  for (const [range, start, end] of [['bytes=65000-140000', 65000, 140000], ['bytes=131072-', 131072, content.length - 1], ['bytes=-100', content.length - 100, content.length - 1], ['bytes=10-20', 10, 20]] as const) {
    const res = await fetchAttachment(app, bob, attachment.filePath, { range })
    t.equal(res.statusCode, 206, range)
    t.equal(res.headers['content-range'], `bytes ${start}-${end}/${content.length}`)
    t.equal(Number(res.headers['content-length']), end - start + 1)
    t.ok(res.rawPayload.equals(content.subarray(start, end + 1)), `${range}: the right bytes`)
  }

  const beyond = await fetchAttachment(app, bob, attachment.filePath, { range: `bytes=${content.length}-` })
  t.equal(beyond.statusCode, 416)
  t.equal(beyond.headers['content-range'], `bytes */${content.length}`)
  t.match(beyond.json(), { success: false, code: 'RANGE_NOT_SATISFIABLE' })

  const etag = full.headers.etag as string
  t.ok(etag.length > 2)
  const cached = await fetchAttachment(app, bob, attachment.filePath, { 'if-none-match': etag })
  t.equal(cached.statusCode, 304)
  t.equal(cached.body, '')
  const stale = await fetchAttachment(app, bob, attachment.filePath, { range: 'bytes=0-9', 'if-range': '"other"' })
  t.equal(stale.statusCode, 200, 'If-Range with another validator serves the whole file')
})

t.test('a non-member gets 404 on every attachment URL, and a member of another group too', async (t) => {
  const png = await redPng(40, 40)
  const attachment = await uploaded(app, alice, groupId, { name: 'x.png', content: png })
  const { messageId } = { messageId: ((await sendWith(alice, [attachment.id])).body.data as { message: ChatMessage }).message.id }
  t.ok(messageId)
  for (const path of [attachment.filePath, attachment.thumbnailPath as string]) {
    const res = await fetchAttachment(app, outsider, path)
    t.equal(res.statusCode, 404, path)
    t.match(res.json(), { success: false, code: 'NOT_FOUND' })
  }
  const res = await upload(app, outsider, groupId, textFile('let me in'))
  t.equal(res.statusCode, 404, 'uploading into a group one is not in')

  const other = await createChatGroup(app, { memberCount: 0 })
  const elsewhere = await fetchAttachment(app, other.owner, attachment.filePath.replace(groupId, other.groupId))
  t.equal(elsewhere.statusCode, 404, 'an attachment id under another group')
  const unattached = await uploaded(app, alice, groupId, textFile('draft'))
  t.equal((await fetchAttachment(app, bob, unattached.filePath)).statusCode, 404, 'an unattached upload is its uploader\'s alone')
  t.equal((await fetchAttachment(app, alice, unattached.filePath)).statusCode, 200)
})

t.test('a message carries its attachments in the send answer, history, get, search, the event and replay', async (t) => {
  const events = recordEvents(app, { groupId }, t)
  const one = await uploaded(app, alice, groupId, textFile('first file'))
  const two = await uploaded(app, alice, groupId, { name: 'p.png', content: await redPng(20, 10) })
  const { status, body } = await sendWith(alice, [two.id, one.id, one.id], { content: 'quarterly figures attached' })
  t.equal(status, 201)
  const message = (body.data as { message: ChatMessage }).message
  const ids = (list: ChatAttachment[] | undefined): string[] => (list ?? []).map((a) => a.id).sort()
  t.same(ids(message.attachments), [one.id, two.id].sort())
  t.ok((message.attachments ?? []).every((a) => a.messageId === message.id))

  const history = dataOf<{ messages: ChatMessage[] }>(await call(app, bob, 'GET', `/groups/${groupId}/chat/messages`))
  t.same(ids(history.messages.find((m) => m.id === message.id)?.attachments), [one.id, two.id].sort(), 'history')
  const got = dataOf<{ message: ChatMessage }>(await call(app, bob, 'GET', `/groups/${groupId}/chat/messages/${message.id}`))
  t.same(ids(got.message.attachments), [one.id, two.id].sort(), 'get')
  const found = dataOf<{ messages: ChatMessage[] }>(await call(app, bob, 'GET', `/groups/${groupId}/chat/search?q=quarterly`))
  t.same(ids(found.messages[0]?.attachments), [one.id, two.id].sort(), 'search')
  const event = eventsOfType(events, 'chat:message').find((e) => e.payload.id === message.id)
  t.same(ids(event?.payload.attachments), [one.id, two.id].sort(), 'the chat:message event')
  t.equal((await fetchAttachment(app, bob, one.filePath)).body, 'first file', 'members download it once it is sent')

  const ws = await connectWs(app, { token: bob.token })
  t.teardown(() => ws.ws.terminate())
  const joined = await ws.request('chat:join_group', { groupId, sinceSeq: (message.seq ?? 1) - 1 })
  t.equal(joined.type, 'chat:ack')
  const replayed = await ws.next('chat:message', (f) => f.payload.id === message.id)
  t.same(ids(replayed.payload.attachments as ChatAttachment[]), [one.id, two.id].sort(), 'replay')
})

t.test('attachmentIds are refused with the offending ids: not yours, another group, attached already, unknown', async (t) => {
  const mine = await uploaded(app, alice, groupId, textFile('mine'))
  const bobs = await uploaded(app, bob, groupId, textFile('bob\'s'))
  const other = await createChatGroup(app, { memberCount: 0 })
  const elsewhere = await uploaded(app, other.owner, other.groupId, textFile('elsewhere'))
  const taken = await uploaded(app, alice, groupId, textFile('taken'))
  t.equal((await sendWith(alice, [taken.id])).status, 201)
  const unknown = '0190a0f2-7d2e-7c3a-8b1e-1234567890ab'

  for (const [name, id] of [['another uploader', bobs.id], ['attached already', taken.id], ['unknown', unknown]] as const) {
    const { status, body } = await sendWith(alice, [mine.id, id])
    t.equal(status, 400, name)
    t.match(body, { code: 'VALIDATION_ERROR', details: { attachmentIds: [id] }, validationErrors: [{ field: 'attachmentIds' }] })
  }
  const foreign = await call(app, other.owner, 'POST', `/groups/${other.groupId}/chat/messages`, { content: 'x', attachmentIds: [mine.id, elsewhere.id] })
  t.equal(foreign.statusCode, 400, 'an upload of another group')
  t.same((foreign.json() as { details: { attachmentIds: string[] } }).details.attachmentIds, [mine.id])
  const tooMany = await sendWith(alice, Array.from({ length: 11 }, () => mine.id))
  t.equal(tooMany.status, 400, 'more than 10')
  t.equal((await fetchAttachment(app, alice, mine.filePath)).statusCode, 200)
  t.equal((await sendWith(alice, [mine.id])).status, 201, 'the refused sends claimed nothing')
})

t.test('a retried send answers with the original message and its attachments; WebSocket sends attach too', async (t) => {
  const file = await uploaded(app, alice, groupId, textFile('retry me'))
  const first = await sendWith(alice, [file.id], { clientMessageId: 'retry-with-file' })
  const again = await sendWith(alice, [file.id], { clientMessageId: 'retry-with-file' })
  t.equal(again.status, 201)
  const original = (first.body.data as { message: ChatMessage }).message
  const retried = (again.body.data as { message: ChatMessage }).message
  t.equal(retried.id, original.id)
  t.same(retried.attachments?.map((a) => a.id), [file.id])

  const viaWs = await uploaded(app, alice, groupId, textFile('over the socket'))
  const ws = await connectWs(app, { token: alice.token })
  t.teardown(() => ws.ws.terminate())
  const ack = await ws.request('chat:send_message', { groupId, content: 'socket send', attachmentIds: [viaWs.id] })
  t.equal(ack.type, 'chat:ack')
  const got = dataOf<{ message: ChatMessage }>(await call(app, bob, 'GET', `/groups/${groupId}/chat/messages/${ack.payload.messageId as string}`))
  t.same(got.message.attachments?.map((a) => a.id), [viaWs.id])
  const refused = await ws.request('chat:send_message', { groupId, content: 'socket send, again', attachmentIds: [viaWs.id] })
  t.equal(refused.type, 'chat:error')
  t.equal(refused.payload.code, 'VALIDATION_ERROR')
})

t.test('a deleted message hides its attachments from everyone; a cleared one from who cleared it', async (t) => {
  const file = await uploaded(app, alice, groupId, textFile('short-lived'))
  const sent = (await sendWith(alice, [file.id])).body.data as { message: ChatMessage }
  t.equal((await fetchAttachment(app, bob, file.filePath)).statusCode, 200)
  // Clear-for-me raises the member's cleared-up-to seq, exactly what history hides by.
  await app.db.updateTable('mirror_group_members').set({ cleared_seq: sent.message.seq ?? 0 })
    .where('group_id', '=', toBin(groupId)).where('user_id', '=', bob.user.id).execute()
  t.equal((await fetchAttachment(app, bob, file.filePath)).statusCode, 404, 'cleared for bob')
  t.equal((await fetchAttachment(app, admin, file.filePath)).statusCode, 200, 'not for the others')

  t.equal((await call(app, alice, 'DELETE', `/groups/${groupId}/chat/messages/${sent.message.id}`)).statusCode, 200)
  for (const who of [alice, admin, owner]) t.equal((await fetchAttachment(app, who, file.filePath)).statusCode, 404)
  const got = dataOf<{ message: ChatMessage }>(await call(app, owner, 'GET', `/groups/${groupId}/chat/messages/${sent.message.id}`))
  t.same(got.message.attachments, [], 'a deleted message shows none')
})

t.test('uploads follow the send rights: broadcast groups take admins only, blocked direct chats none', async (t) => {
  const broadcast = await createChatGroup(app, { memberCount: 1, type: 'broadcast' })
  const member = broadcast.members[0] as typeof owner
  t.equal((await upload(app, member, broadcast.groupId, textFile('hi'))).statusCode, 403)
  t.equal((await upload(app, broadcast.admin, broadcast.groupId, textFile('hi'))).statusCode, 201)

  const carol = await registerUser(app)
  const dave = await registerUser(app)
  const direct = await createDirectChat(app, carol, dave)
  t.equal((await upload(app, carol, direct, textFile('hello'))).statusCode, 201)
  t.equal((await call(app, dave, 'POST', `/users/${carol.user.id}/block`)).statusCode < 300, true)
  t.equal((await upload(app, carol, direct, textFile('hello?'))).statusCode, 403)
})

t.test('the sweep removes day-old unattached uploads and their files, and the files of deleted groups', async (t) => {
  const solo = await registerUser(app)
  const lone = dataOf<{ group: { id: string } }>(await call(app, solo, 'POST', '/groups', { name: 'Solo' })).group.id
  const kept = await uploaded(app, solo, lone, textFile('kept, sent'))
  await call(app, solo, 'POST', `/groups/${lone}/chat/messages`, { content: 'k', attachmentIds: [kept.id] })
  const stale = await uploaded(app, solo, lone, { name: 'p.png', content: await redPng(30, 30) })
  await clock.advance(12 * 3600_000)
  const fresh = await uploaded(app, solo, lone, textFile('fresh'))
  const groupFiles = async (): Promise<string[]> => (await filesUnder(dir)).filter((path) => path.includes(lone))
  t.equal((await groupFiles()).length, 4, 'three files and a thumbnail')

  await clock.advance(13 * 3600_000)
  t.equal((await fetchAttachment(app, solo, stale.filePath)).statusCode, 404, 'the stale upload is gone')
  t.equal((await fetchAttachment(app, solo, fresh.filePath)).statusCode, 200, 'a younger one stays')
  t.equal((await fetchAttachment(app, solo, kept.filePath)).statusCode, 200, 'an attached one stays')
  t.equal((await groupFiles()).length, 2, 'the stale file and its thumbnail are removed')

  t.equal((await call(app, solo, 'POST', `/groups/${lone}/leave`)).statusCode < 300, true)
  t.same(await groupFiles(), [], 'the last member leaving deletes the group and its files')

  // A group deleted by a path that did not remove its files: the sweep does.
  const other = await createChatGroup(app, { memberCount: 0 })
  await uploaded(app, other.owner, other.groupId, textFile('orphan'))
  await app.db.deleteFrom('mirror_groups').where('id', '=', toBin(other.groupId)).execute()
  t.match(await app.attachmentService.sweep(), { groups: 1 })
  t.same((await filesUnder(dir)).filter((path) => path.includes(other.groupId)), [])
})

t.test('upload_progress reaches every connection of the uploader, at most 4 times a second, then once with the attachment id', async (t) => {
  const phone = await connectWs(app, { token: alice.token })
  const laptop = await connectWs(app, { token: alice.token })
  const onlooker = await connectWs(app, { token: bob.token })
  t.teardown(() => { for (const ws of [phone, laptop, onlooker]) ws.ws.terminate() })
  const { port } = app.server.address() as AddressInfo
  const boundary = 'progress-boundary'
  const chunk = Buffer.alloc(10_000, 'a')
  const chunks = 20
  // Each chunk is sent, then the clock moves 100 ms: 2 s of (test) time for the whole upload.
  async function * body (): AsyncGenerator<Buffer> {
    yield Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="slow.txt"\r\n\r\n`)
    for (let i = 0; i < chunks; i++) {
      yield chunk
      await new Promise((resolve) => setTimeout(resolve, 5))
      await clock.advance(100)
    }
    yield Buffer.from(`\r\n--${boundary}--\r\n`)
  }
  const request = httpRequest(`http://127.0.0.1:${port}${api}/groups/${groupId}/chat/attachments?uploadId=slow-1&size=${chunks * chunk.length}`, {
    method: 'POST',
    headers: { ...alice.auth, 'content-type': `multipart/form-data; boundary=${boundary}` }
  })
  const responded = new Promise<IncomingMessage>((resolve) => { request.on('response', resolve) })
  await pipeline(Readable.from(body()), request)
  const response = await responded
  t.equal(response.statusCode, 201)
  response.resume()

  const size = chunks * chunk.length
  for (const ws of [phone, laptop]) {
    const final = await ws.next('upload_progress', (f) => f.payload.attachmentId !== undefined)
    t.match(final.payload, { uploadId: 'slow-1', groupId, receivedBytes: size, totalBytes: size })
    const during = ws.frames.filter((f) => f.type === 'upload_progress' && f.payload.attachmentId === undefined)
    t.ok(during.length >= 1, `${during.length} progress events while it streamed`)
    t.ok(during.length <= 2000 / 250, 'never more than 4 in a second of the clock')
    const received = during.map((f) => f.payload.receivedBytes as number)
    t.same(received, [...received].sort((a, b) => a - b))
    t.ok(received.every((n) => n > 0 && n <= size))
  }
  t.ok(await onlooker.quiet('upload_progress', 50), 'nobody else hears of it')
})
