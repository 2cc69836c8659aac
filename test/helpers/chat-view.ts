import type { FastifyInstance } from 'fastify'
import { call, dataOf } from './api.ts'
import type { TestUser } from './users.ts'
import { connected } from './ws.ts'

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
    const { groups } = dataOf<{ groups: Array<{ id: string, unreadCount: number }> }>(await call(app, user, 'GET', `/groups?archived=${archived}&limit=100`))
    const found = groups.find((g) => g.id === groupId)
    if (found !== undefined) return { placement, listUnread: found.unreadCount }
  }
  return { placement: 'hidden', listUnread: null }
}

export async function viewOf (app: FastifyInstance, user: TestUser, groupId: string, word: string): Promise<ChatView> {
  const { placement, listUnread } = await placementOf(app, user, groupId)
  const { messages } = dataOf<{ messages: Array<{ seq: number }> }>(await call(app, user, 'GET', `/groups/${groupId}/chat/messages`))
  const search = dataOf<{ count: number }>(await call(app, user, 'GET', `/groups/${groupId}/chat/search?q=${word}`))
  const single = dataOf<{ unreadCount: number }>(await call(app, user, 'GET', `/chat/unread-count?groupId=${groupId}`))
  const all = dataOf<{ groups: Array<{ groupId: string }> }>(await call(app, user, 'GET', '/chat/unread-count'))
  const client = await connected(app, user)
  try {
    const state = (client.sync.payload.groups as Array<{ groupId: string, unreadCount: number }>).find((g) => g.groupId === groupId)
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
