import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import type { ChatMessage } from '../../../schemas/chat.ts'
import type { ServerEvent } from '../../../schemas/events.ts'
import type { BusTarget } from '../../../src/plugins/bus.ts'
import { registerUser, type TestUser } from '../../helpers/users.ts'

export interface ChatGroup {
  groupId: string
  owner: TestUser
  admin: TestUser
  members: TestUser[]
  /** A registered user who is not in the group. */
  outsider: TestUser
}

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
 * A group made through the groups API: an owner, an admin, `memberCount` plain members, and
 * an outsider who is not in it.
 */
export async function createGroup (app: FastifyInstance, options: { memberCount?: number, type?: 'group' | 'public' | 'broadcast' } = {}): Promise<ChatGroup> {
  const owner = await registerUser(app)
  const admin = await registerUser(app)
  const members: TestUser[] = []
  for (let i = 0; i < (options.memberCount ?? 2); i++) members.push(await registerUser(app))
  const outsider = await registerUser(app)
  const created = dataOf<{ group: { id: string } }>(await call(app, owner, 'POST', '/groups', {
    name: 'Chat test',
    type: options.type ?? 'group',
    memberIds: members.map((m) => m.user.id)
  }))
  const groupId = created.group.id
  dataOf(await call(app, owner, 'POST', `/groups/${groupId}/members`, { userId: admin.user.id, role: 'admin' }))
  return { groupId, owner, admin, members, outsider }
}

/** The direct chat between two users. */
export async function createDirectChat (app: FastifyInstance, a: TestUser, b: TestUser): Promise<string> {
  return dataOf<{ group: { id: string } }>(await call(app, a, 'POST', `/groups/direct/${b.user.id}`)).group.id
}

export async function sendMessage (app: FastifyInstance, who: TestUser, groupId: string, body: Record<string, unknown> | string): Promise<ChatMessage> {
  const payload = typeof body === 'string' ? { content: body } : body
  return dataOf<{ message: ChatMessage }>(await call(app, who, 'POST', `/groups/${groupId}/chat/messages`, payload)).message
}

/** Records every event published to a bus target until the test ends. */
export function recordEvents (app: FastifyInstance, target: BusTarget, t: { teardown: (fn: () => void) => void }): ServerEvent[] {
  const events: ServerEvent[] = []
  const unsubscribe = app.bus.subscribe(target, (event) => { events.push(event) })
  t.teardown(unsubscribe)
  return events
}

/** The events of one type, with their payloads typed. */
export function eventsOfType<K extends ServerEvent['type']> (events: ServerEvent[], type: K): Array<Extract<ServerEvent, { type: K }>> {
  return events.filter((e): e is Extract<ServerEvent, { type: K }> => e.type === type)
}
