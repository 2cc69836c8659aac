import t from 'tap'
import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import type { FastifyInstance } from 'fastify'
import type { AdminReport } from '../../../schemas/moderation.ts'
import { buildTestApp, TEST_JWT_SECRET, TEST_MASTER_KEY } from '../../helpers/app.ts'
import { registerUser, type TestUser } from '../../helpers/users.ts'
import { call, createChatGroup, createDirectChat, dataOf, sendMessage } from '../../helpers/api.ts'
import { eventsOfType, recordEvents } from '../../helpers/events.ts'
import { connectWs } from '../../helpers/ws.ts'

// System administrators review reports (seed 04 admin dashboard): granted with the admin
// script (`npm run admin -- grant`) or named in ADMIN_USER_IDS.
const app = await buildTestApp(t, import.meta.url)
const root = fileURLToPath(new URL('../../../', import.meta.url))

interface CliRun { code: number | null, stdout: string, stderr: string }

/** Runs `npm run admin -- <args>` as a child process against this file's database. */
async function adminCli (...args: string[]): Promise<CliRun> {
  return await new Promise((resolve) => {
    execFile(process.execPath, ['scripts/admin.ts', ...args], {
      cwd: root,
      env: { PATH: process.env.PATH ?? '', DATABASE_URL: app.config.databaseUrl, JWT_SECRET: TEST_JWT_SECRET, ENCRYPTION_MASTER_KEY: TEST_MASTER_KEY, ADMIN_USER_IDS: '' },
      timeout: 120_000
    }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : null, stdout, stderr })
    })
  })
}

async function report (groupId: string, messageId: string, reporter: TestUser, body: object = { reason: 'spam' }): Promise<string> {
  return dataOf<{ report: { id: string } }>(await call(app, reporter, 'POST', `/groups/${groupId}/chat/messages/${messageId}/report`, body)).report.id
}

const moderator = await registerUser(app)
const granted = await adminCli('grant', String(moderator.user.id))

async function review (who: TestUser, reportId: string, body: object): Promise<ReturnType<typeof call>> {
  return await call(app, who, 'PUT', `/admin/reports/${reportId}`, body)
}

t.test('the admin script grants a system administrator', async (t) => {
  t.equal(granted.code, 0, granted.stderr)
  t.match(granted.stdout, new RegExp(`Granted: user ${moderator.user.id}`))
  const again = await adminCli('grant', String(moderator.user.id))
  t.equal(again.code, 0)
  t.match(again.stdout, /already/)
  const listed = await adminCli('list')
  t.match(listed.stdout, new RegExp(`^${moderator.user.id}\\t${moderator.user.username}\\t`, 'm'))
})

t.test('a report is resolved by an administrator granted with the script: the message is deleted for everyone', async (t) => {
  const { groupId, owner, members } = await createChatGroup(app)
  const message = await sendMessage(app, owner, groupId, 'click my scam link')
  const reportId = await report(groupId, message.id, members[0]!, { reason: 'spam', details: 'a scam' })
  const events = recordEvents(app, { groupId }, t)

  const pending = dataOf<{ reports: AdminReport[] }>(await call(app, moderator, 'GET', '/admin/reports?status=pending'))
  const listed = pending.reports.find((r) => r.id === reportId)
  t.match(listed, { status: 'pending', reason: 'spam', details: 'a scam', reportedUserId: owner.user.id, reviewedBy: null, action: null })
  t.equal(listed?.message?.content, 'click my scam link', 'the administrator sees what was reported')

  const before = Date.now()
  const res = await review(moderator, reportId, { status: 'reviewed', action: 'delete_message', reviewNotes: 'scam' })
  t.equal(res.statusCode, 200, res.body)
  const { report: reviewed } = dataOf<{ report: AdminReport }>(res)
  t.match(reviewed, { status: 'reviewed', action: 'delete_message', reviewedBy: moderator.user.id, reviewNotes: 'scam' })
  t.ok(Date.parse(reviewed.reviewedAt ?? '') >= before - 1000, 'reviewedAt is the time of the review')
  t.equal(reviewed.message?.isDeleted, true)

  const deleted = eventsOfType(events, 'chat:message_deleted')
  t.same(deleted.map((e) => e.payload), [{ messageId: message.id, groupId, deletedBy: moderator.user.id }], 'published as any delete')
  const seen = dataOf<{ message: { isDeleted: boolean } }>(await call(app, members[1]!, 'GET', `/groups/${groupId}/chat/messages/${message.id}`))
  t.equal(seen.message.isDeleted, true, 'members see it deleted')
  const stored = dataOf<{ reports: AdminReport[] }>(await call(app, moderator, 'GET', '/admin/reports?status=reviewed&limit=100'))
  t.match(stored.reports.find((r) => r.id === reportId), { status: 'reviewed', reviewedBy: moderator.user.id, action: 'delete_message' }, 'the review is recorded')
})

t.test('remove_sender takes the sender out of the group: chat:member_left, and their subscription ends', async (t) => {
  const { groupId, owner, members } = await createChatGroup(app)
  const offender = members[0]!
  const message = await sendMessage(app, offender, groupId, 'you are all idiots')
  const reportId = await report(groupId, message.id, owner, { reason: 'harassment' })
  const socket = await connectWs(app, { token: offender.token })
  t.teardown(async () => { await socket.close() })
  await socket.next('chat:sync')
  t.equal((await socket.request('chat:join_group', { groupId })).type, 'chat:ack')

  const res = await review(moderator, reportId, { status: 'reviewed', action: 'remove_sender' })
  t.equal(res.statusCode, 200, res.body)
  const left = await socket.next('chat:member_left')
  t.match(left.payload, { groupId, userId: offender.user.id, reason: 'removed', removedBy: moderator.user.id })
  t.match((await socket.next('chat:group_left')).payload, { groupId, reason: 'removed' })
  t.equal((await call(app, offender, 'GET', `/groups/${groupId}/chat/messages`)).statusCode, 403, 'no longer a member')
})

t.test('remove_sender removes even the group\'s owner: ownership passes on, announced as the administrator\'s doing', async (t) => {
  const { groupId, owner, admin, members } = await createChatGroup(app)
  const message = await sendMessage(app, owner, groupId, 'owner gone rogue')
  const reportId = await report(groupId, message.id, members[0]!, { reason: 'inappropriate' })
  const events = recordEvents(app, { groupId }, t)
  t.equal((await review(moderator, reportId, { status: 'reviewed', action: 'remove_sender' })).statusCode, 200)
  t.match(eventsOfType(events, 'chat:member_left').map((e) => e.payload), [{ userId: owner.user.id, reason: 'removed', removedBy: moderator.user.id }])
  t.match(eventsOfType(events, 'chat:member_role_changed').map((e) => e.payload), [{ userId: admin.user.id, role: 'owner', changedBy: moderator.user.id }])
})

t.test('a dismissal records the review and takes no action', async (t) => {
  const { groupId, owner, members } = await createChatGroup(app)
  const message = await sendMessage(app, owner, groupId, 'fine')
  const reportId = await report(groupId, message.id, members[0]!)
  const res = await review(moderator, reportId, { status: 'dismissed', reviewNotes: 'not spam' })
  t.match(dataOf<{ report: AdminReport }>(res).report, { status: 'dismissed', action: 'none', reviewedBy: moderator.user.id })
  t.equal(dataOf<{ message: { isDeleted: boolean } }>(await call(app, owner, 'GET', `/groups/${groupId}/chat/messages/${message.id}`)).message.isDeleted, false)
})

t.test('a dismissal with an action is refused', async (t) => {
  const { groupId, owner, members } = await createChatGroup(app)
  const message = await sendMessage(app, owner, groupId, 'x')
  const reportId = await report(groupId, message.id, members[0]!)
  const res = await review(moderator, reportId, { status: 'dismissed', action: 'delete_message' })
  t.equal(res.statusCode, 400)
  t.equal((res.json().validationErrors as Array<{ field: string }>)[0]?.field, 'action')
})

t.test('a report is resolved once: a second review is a CONFLICT, and the reporter may report again', async (t) => {
  const { groupId, owner, members } = await createChatGroup(app)
  const message = await sendMessage(app, owner, groupId, 'x')
  const reportId = await report(groupId, message.id, members[0]!)
  t.equal((await review(moderator, reportId, { status: 'reviewed' })).statusCode, 200)
  t.equal((await review(moderator, reportId, { status: 'dismissed' })).statusCode, 409)
  t.equal((await call(app, members[0]!, 'POST', `/groups/${groupId}/chat/messages/${message.id}/report`, { reason: 'other' })).statusCode, 201)
})

t.test('an action that cannot be carried out leaves the report pending', async (t) => {
  const a = await registerUser(app)
  const b = await registerUser(app)
  const groupId = await createDirectChat(app, a, b)
  const message = await sendMessage(app, a, groupId, 'rude')
  const reportId = await report(groupId, message.id, b, { reason: 'harassment' })
  const res = await review(moderator, reportId, { status: 'reviewed', action: 'remove_sender' })
  t.equal(res.statusCode, 403, 'nobody is removed from a direct chat')
  const pending = dataOf<{ reports: AdminReport[] }>(await call(app, moderator, 'GET', '/admin/reports?status=pending&limit=100'))
  t.match(pending.reports.find((r) => r.id === reportId), { status: 'pending', reviewedBy: null, reviewedAt: null, action: null })
})

t.test('reports are listed newest first by page, with the total', async (t) => {
  const { groupId, owner, members } = await createChatGroup(app, { memberCount: 3 })
  const message = await sendMessage(app, owner, groupId, 'popular')
  const ids: string[] = []
  for (const member of members) ids.push(await report(groupId, message.id, member))
  const first = dataOf<{ reports: AdminReport[], total: number, hasMore: boolean, page: number }>(await call(app, moderator, 'GET', '/admin/reports?status=pending&limit=1'))
  t.equal(first.reports[0]?.id, ids[2], 'the newest report first')
  t.equal(first.hasMore, true)
  const second = dataOf<{ reports: AdminReport[], page: number }>(await call(app, moderator, 'GET', '/admin/reports?status=pending&limit=1&page=2'))
  t.equal(second.reports[0]?.id, ids[1])
  t.equal(second.page, 2)
  const all = dataOf<{ total: number }>(await call(app, moderator, 'GET', '/admin/reports'))
  t.ok(all.total >= first.total, 'without status every report counts')
  t.equal((await call(app, moderator, 'GET', '/admin/reports?status=open')).statusCode, 400)
})

t.test('/admin routes answer 401 without a token and 403 to anyone but a system administrator', async (t) => {
  const { groupId, owner, members } = await createChatGroup(app)
  const message = await sendMessage(app, owner, groupId, 'x')
  const reportId = await report(groupId, message.id, members[0]!)
  t.equal((await app.inject({ method: 'GET', url: `${app.config.apiPrefix}/admin/reports` })).statusCode, 401)
  const listed = await call(app, owner, 'GET', '/admin/reports')
  t.equal(listed.statusCode, 403, 'a group owner is not a system administrator')
  t.equal(listed.json().code, 'FORBIDDEN')
  t.equal((await review(owner, reportId, { status: 'dismissed' })).statusCode, 403)
  t.equal((await review(owner, reportId, { nonsense: true })).statusCode, 403, 'whatever they send')
})

t.test('revoking with the script takes the rights away at once', async (t) => {
  const temporary = await registerUser(app)
  t.equal((await adminCli('grant', String(temporary.user.id))).code, 0)
  t.equal((await call(app, temporary, 'GET', '/admin/reports')).statusCode, 200)
  const revoked = await adminCli('revoke', String(temporary.user.id))
  t.equal(revoked.code, 0)
  t.match(revoked.stdout, /Revoked/)
  t.equal((await call(app, temporary, 'GET', '/admin/reports')).statusCode, 403)
})

t.test('the script refuses an unknown user and bad usage', async (t) => {
  const unknown = await adminCli('grant', '4000000000')
  t.equal(unknown.code, 1)
  t.match(unknown.stderr, /No user 4000000000/)
  const usage = await adminCli('promote', 'alice')
  t.equal(usage.code, 2)
  t.match(usage.stderr, /Usage: npm run admin -- grant <userId> \| revoke <userId> \| list/)
  t.equal((await adminCli('grant', 'alice')).code, 2)
})

t.test('a user named in ADMIN_USER_IDS is a system administrator without a grant', async (t) => {
  const configured = await registerUser(app)
  const other: FastifyInstance = await buildTestApp(t, import.meta.url, { env: { ADMIN_USER_IDS: `${configured.user.id}` } })
  t.equal((await call(other, configured, 'GET', '/admin/reports')).statusCode, 200)
  t.equal((await call(app, configured, 'GET', '/admin/reports')).statusCode, 403, 'not on an instance without the setting')
})
