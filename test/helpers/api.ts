import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import type { ChatMessage } from '../../schemas/chat.ts'
import { registerUser, type TestUser } from './users.ts'

type Method = 'GET' | 'POST' | 'PUT' | 'DELETE' | 'PATCH'

/** A request to the API as `who`; `path` is relative to the API prefix. */
export async function call (app: FastifyInstance, who: TestUser, method: Method, path: string, payload?: object): Promise<LightMyRequestResponse> {
  return await app.inject({
    method,
    url: `${app.config.apiPrefix}${path}`,
    headers: who.auth,
    ...(payload !== undefined ? { payload } : {})
  })
}

/** Asserts a 2xx and returns the envelope's data. */
export function dataOf<T = Record<string, unknown>> (res: LightMyRequestResponse): T {
  if (res.statusCode >= 300) throw new Error(`expected success, got ${res.statusCode} ${res.body}`)
  return (res.json() as { data: T }).data
}

/**
 * Creates a group through the REST API: `owner` creates it with `members` in it. `extra` is
 * merged into the body last (a name, a type, raw memberIds). Returns its id.
 */
export async function createGroup (app: FastifyInstance, owner: TestUser, members: TestUser[] = [], extra: Record<string, unknown> = {}): Promise<string> {
  const body = { name: 'Test group', memberIds: members.map((m) => m.user.id), ...extra }
  return dataOf<{ group: { id: string } }>(await call(app, owner, 'POST', '/groups', body)).group.id
}

/** Adds `user` to the group as `actor` (role `member` unless given). */
export async function addMember (app: FastifyInstance, actor: TestUser, groupId: string, user: TestUser, role?: 'member' | 'admin'): Promise<void> {
  dataOf(await call(app, actor, 'POST', `/groups/${groupId}/members`, role === undefined ? { userId: user.user.id } : { userId: user.user.id, role }))
}

/** A group with its people: an owner, an admin, plain members, and an outsider who is not in it. */
export interface ChatGroup {
  groupId: string
  owner: TestUser
  admin: TestUser
  members: TestUser[]
  /** A registered user who is not in the group. */
  outsider: TestUser
}

/** Registers a cast and makes a `ChatGroup` of them: `memberCount` plain members (2 unless given). */
export async function createChatGroup (app: FastifyInstance, options: { memberCount?: number, type?: 'group' | 'public' | 'broadcast' } = {}): Promise<ChatGroup> {
  const owner = await registerUser(app)
  const admin = await registerUser(app)
  const members: TestUser[] = []
  for (let i = 0; i < (options.memberCount ?? 2); i++) members.push(await registerUser(app))
  const outsider = await registerUser(app)
  const groupId = await createGroup(app, owner, members, { name: 'Chat test', type: options.type ?? 'group' })
  await addMember(app, owner, groupId, admin, 'admin')
  return { groupId, owner, admin, members, outsider }
}

/** The direct chat between two users. */
export async function createDirectChat (app: FastifyInstance, a: TestUser, b: TestUser): Promise<string> {
  return dataOf<{ group: { id: string } }>(await call(app, a, 'POST', `/groups/direct/${b.user.id}`)).group.id
}

/** Sends a message through the REST API: a string is the content, an object the whole body. */
export async function sendMessage (app: FastifyInstance, who: TestUser, groupId: string, body: Record<string, unknown> | string): Promise<ChatMessage> {
  const payload = typeof body === 'string' ? { content: body } : body
  return dataOf<{ message: ChatMessage }>(await call(app, who, 'POST', `/groups/${groupId}/chat/messages`, payload)).message
}
