import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import type { TestUser } from '../../helpers/users.ts'
import { connectWs, type Frame, type WsClient } from '../../helpers/ws.ts'

/** A REST call as `user` under API_PREFIX. */
export async function call (app: FastifyInstance, user: TestUser, method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE', path: string, payload?: object): Promise<LightMyRequestResponse> {
  return await app.inject({ method, url: `${app.config.apiPrefix}${path}`, headers: user.auth, ...(payload === undefined ? {} : { payload }) })
}

/** The `data` of a 2xx answer; throws with the body otherwise. */
export async function ok<T = Record<string, unknown>> (response: Promise<LightMyRequestResponse> | LightMyRequestResponse): Promise<T> {
  const res = await response
  if (res.statusCode >= 300) throw new Error(`${res.statusCode} ${res.body}`)
  return res.json().data as T
}

export async function send (app: FastifyInstance, user: TestUser, groupId: string, content: string, extra: object = {}): Promise<{ id: string, seq: number }> {
  const { message } = await ok<{ message: { id: string, seq: number } }>(call(app, user, 'POST', `/groups/${groupId}/chat/messages`, { content, ...extra }))
  return message
}

export async function group (app: FastifyInstance, owner: TestUser, members: TestUser[], extra: object = {}): Promise<string> {
  const { group } = await ok<{ group: { id: string } }>(call(app, owner, 'POST', '/groups', { name: 'Managed', memberIds: members.map((m) => m.user.id), ...extra }))
  return group.id
}

/** A WebSocket of the user, its chat:sync taken. */
export async function connected (app: FastifyInstance, user: TestUser): Promise<{ client: WsClient, sync: Frame }> {
  const client = await connectWs(app, { token: user.token })
  const sync = await client.next('chat:sync')
  return { client, sync }
}

/** Where the chat shows in the user's chat list. */
export type Placement = 'inbox' | 'archive' | 'hidden'

/** Everything the user sees of one chat, read on `app`: chat list, history, search, unread, chat:sync and replay after reconnect. */
export interface ChatView {
  placement: Placement
  listUnread: number | null
  history: number[]
  search: number
  unread: number
  inTotal: boolean
  sync: number | null
  replay: number[]
}

async function placementOf (app: FastifyInstance, user: TestUser, groupId: string): Promise<{ placement: Placement, listUnread: number | null }> {
  for (const [placement, archived] of [['inbox', false], ['archive', true]] as const) {
    const { groups } = await ok<{ groups: Array<{ id: string, unreadCount: number }> }>(call(app, user, 'GET', `/groups?archived=${archived}&limit=100`))
    const found = groups.find((g) => g.id === groupId)
    if (found !== undefined) return { placement, listUnread: found.unreadCount }
  }
  return { placement: 'hidden', listUnread: null }
}

export async function viewOf (app: FastifyInstance, user: TestUser, groupId: string, word: string): Promise<ChatView> {
  const { placement, listUnread } = await placementOf(app, user, groupId)
  const { messages } = await ok<{ messages: Array<{ seq: number }> }>(call(app, user, 'GET', `/groups/${groupId}/chat/messages`))
  const search = await ok<{ count: number }>(call(app, user, 'GET', `/groups/${groupId}/chat/search?q=${word}`))
  const single = await ok<{ unreadCount: number }>(call(app, user, 'GET', `/chat/unread-count?groupId=${groupId}`))
  const all = await ok<{ groups: Array<{ groupId: string }> }>(call(app, user, 'GET', '/chat/unread-count'))
  const { client, sync } = await connected(app, user)
  try {
    const state = (sync.payload.groups as Array<{ groupId: string, unreadCount: number }>).find((g) => g.groupId === groupId)
    const ack = await client.request('chat:join_group', { groupId, sinceSeq: 0 })
    if (ack.type !== 'chat:ack') throw new Error(`join failed: ${JSON.stringify(ack.payload)}`)
    const latestSeq = ack.payload.latestSeq as number
    const replay: number[] = []
    for (const frame of client.frames) if (frame.type === 'chat:message' && frame.payload.groupId === groupId) replay.push(frame.payload.seq as number)
    if (replay.length > 0 && replay.at(-1) !== latestSeq) throw new Error('replay incomplete')
    return {
      placement,
      listUnread,
      history: messages.map((m) => m.seq).reverse(),
      search: search.count,
      unread: single.unreadCount,
      inTotal: all.groups.some((g) => g.groupId === groupId),
      sync: state?.unreadCount ?? null,
      replay
    }
  } finally {
    await client.close()
  }
}
