import { ParleyError, type ConnectionState, type OutboxEntry, type ParleyClient } from '@parley/client'
import type {
  ChatListItem, ChatMessage, GroupMember, MessagePreview, PresenceStatus, PublicUser, ReactionSummary, UserProfile, SearchMessagesResponse
} from '@parley/types'

/** What the demo knows of one chat. */
export interface ChatView {
  item: ChatListItem
  /** Messages by id; shown ordered by seq. */
  messages: Map<string, ChatMessage>
  historyLoaded: boolean
  hasOlder: boolean
  loadingOlder: boolean
  /** Who is typing, with the timer that clears them if the stop never comes. */
  typing: Map<number, { name: string, timer: number }>
  /** Per member, the highest seq they have read (read receipts). */
  readUpTo: Map<number, number>
  /** Reads of messages not here yet (one's own, still on its way): applied when they arrive. */
  pendingReads: Map<string, number[]>
  members: GroupMember[] | null
}

/** A typing indicator expires this long after its last start (the server's is 5 s). */
const TYPING_DISPLAY_MS = 6000
const HISTORY_PAGE = 50

const previewOf = (message: ChatMessage): MessagePreview => ({
  id: message.id,
  senderUserId: message.senderUserId,
  senderUsername: message.senderUsername ?? null,
  contentType: message.contentType,
  preview: message.isDeleted ? null : message.content.slice(0, 100),
  createdAt: new Date(message.createdAt).toISOString(),
  seq: message.seq ?? 0
})

const activityOf = (chat: ChatView): string => chat.item.lastMessage?.createdAt ?? chat.item.updatedAt

/**
 * The demo's state, fed by @parley/client: the chat list, each chat's messages, typing,
 * presence, read receipts and the outbox. Views subscribe and re-render on change.
 */
export class Store {
  readonly client: ParleyClient
  readonly me: PublicUser
  readonly chats = new Map<string, ChatView>()
  /** Users seen (members, direct peers), for names. */
  readonly users = new Map<number, UserProfile>()
  readonly presence = new Map<number, PresenceStatus>()
  activeId: string | null = null
  connection: ConnectionState = 'idle'
  pending: readonly OutboxEntry[] = []
  /** The last failure worth telling the user about. */
  notice: string | null = null
  private readonly listeners = new Set<() => void>()
  private scheduled = false
  private readonly onSignedOut: () => void

  constructor (client: ParleyClient, me: PublicUser, onSignedOut: () => void) {
    this.client = client
    this.me = me
    this.users.set(me.id, me)
    this.onSignedOut = onSignedOut
    this.listen()
  }

  subscribe (listener: () => void): () => void {
    this.listeners.add(listener)
    return () => { this.listeners.delete(listener) }
  }

  /** Views re-render once per frame however many changes came in. */
  changed (): void {
    if (this.scheduled) return
    this.scheduled = true
    requestAnimationFrame(() => {
      this.scheduled = false
      for (const listener of this.listeners) listener()
    })
  }

  get sortedChats (): ChatView[] {
    return [...this.chats.values()].sort((a, b) => activityOf(b).localeCompare(activityOf(a)))
  }

  get active (): ChatView | null {
    return this.activeId === null ? null : this.chats.get(this.activeId) ?? null
  }

  /** Loads the chat list and connects; offline, the list comes with the first connection. */
  async start (): Promise<void> {
    this.client.on('connected', () => { if (!this.listLoaded) void this.loadList().catch(() => {}) })
    await this.loadList().catch(() => {})
    await this.client.connect()
  }

  private listLoaded = false

  private async loadList (): Promise<void> {
    const { groups } = await this.client.rest.groups.list({ limit: 100 })
    this.listLoaded = true
    for (const item of groups) this.addChat(item)
    await this.loadPeers(groups)
    this.changed()
  }

  private addChat (item: ChatListItem): ChatView {
    const existing = this.chats.get(item.id)
    if (existing !== undefined) {
      existing.item = { ...existing.item, ...item }
      return existing
    }
    const chat: ChatView = {
      item, messages: new Map(), historyLoaded: false, hasOlder: false, loadingOlder: false, typing: new Map(), readUpTo: new Map(), pendingReads: new Map(), members: null
    }
    this.chats.set(item.id, chat)
    this.client.joinGroup(item.id).catch(() => { /* reported through groupUnavailable */ })
    return chat
  }

  /** The other users of direct chats: their names, and whether they are online (the list shows both). */
  private async loadPeers (items: ChatListItem[]): Promise<void> {
    const direct = items.filter((item) => item.type === 'direct' && item.peerUserId !== null)
    await Promise.all(direct.map(async (item) => {
      const [profile, presence] = await Promise.all([
        this.users.has(item.peerUserId ?? 0) ? null : this.client.rest.users.get(item.peerUserId ?? 0).catch(() => null),
        this.client.rest.presence.presence(item.id).catch(() => null)
      ])
      if (profile !== null) this.users.set(profile.user.id, profile.user)
      for (const state of presence?.presence ?? []) this.presence.set(state.userId, state.status)
    }))
  }

  /** Opens a chat: its recent history, members and presence, and marks it read. */
  async open (groupId: string): Promise<void> {
    const chat = this.chats.get(groupId)
    if (chat === undefined) return
    this.activeId = groupId
    this.changed()
    if (!chat.historyLoaded) {
      const page = await this.client.rest.chat.listMessages(groupId, { limit: HISTORY_PAGE, includeReactions: true, includeReadBy: true })
      this.mergeHistory(chat, page.messages)
      chat.historyLoaded = true
      chat.hasOlder = page.hasMore
    }
    if (chat.members === null) await this.loadMembers(chat)
    this.markActiveRead()
    this.changed()
  }

  /** Back to the chat list (narrow screens). */
  close (): void {
    this.activeId = null
    this.changed()
  }

  async loadOlder (): Promise<void> {
    const chat = this.active
    if (chat === null || !chat.hasOlder || chat.loadingOlder) return
    const oldest = [...chat.messages.values()].sort((a, b) => (a.seq ?? 0) - (b.seq ?? 0))[0]
    if (oldest === undefined) return
    chat.loadingOlder = true
    this.changed()
    try {
      const page = await this.client.rest.chat.listMessages(chat.item.id, { limit: HISTORY_PAGE, before: oldest.id, includeReactions: true, includeReadBy: true })
      this.mergeHistory(chat, page.messages)
      chat.hasOlder = page.hasMore
    } finally {
      chat.loadingOlder = false
      this.changed()
    }
  }

  private mergeHistory (chat: ChatView, messages: ChatMessage[]): void {
    for (const message of messages) {
      if (!chat.messages.has(message.id)) chat.messages.set(message.id, message)
      for (const reader of message.readBy ?? []) this.noteRead(chat, reader, message.seq ?? 0)
    }
  }

  private async loadMembers (chat: ChatView): Promise<void> {
    const [{ members }, { presence }] = await Promise.all([
      this.client.rest.groups.members(chat.item.id),
      this.client.rest.presence.presence(chat.item.id)
    ])
    chat.members = members
    for (const member of members) this.users.set(member.userId, member.user)
    for (const state of presence) this.presence.set(state.userId, state.status)
  }

  private noteRead (chat: ChatView, userId: number, seq: number): void {
    if (seq > (chat.readUpTo.get(userId) ?? 0)) chat.readUpTo.set(userId, seq)
  }

  /** Marks the active chat read up to its newest message, when the page is in view. */
  markActiveRead (): void {
    const chat = this.active
    if (chat === null || document.visibilityState !== 'visible') return
    const newest = newestOf(chat)
    if (newest === undefined || chat.item.unreadCount === 0) return
    chat.item.unreadCount = 0
    this.client.markRead(chat.item.id, newest.id).catch(() => {})
    this.changed()
  }

  // ---- actions ----

  async send (content: string, replyTo: ChatMessage | null): Promise<void> {
    const groupId = this.activeId
    if (groupId === null) return
    const reply = replyTo === null
      ? {}
      : {
          parentMessageId: replyTo.id,
          contentType: 'reply' as const,
          metadata: { replyPreview: { messageId: replyTo.id, senderUsername: replyTo.senderUsername ?? '', content: replyTo.content.slice(0, 100) } }
        }
    this.client.typing(groupId, false)
    await this.report(this.client.send(groupId, { content, ...reply }))
  }

  async edit (message: ChatMessage, content: string): Promise<void> {
    const result = await this.report(this.client.rest.chat.editMessage(message.groupId, message.id, { content }))
    if (result !== null) this.putMessage(result.message)
  }

  async remove (message: ChatMessage): Promise<void> {
    await this.report(this.client.rest.chat.deleteMessage(message.groupId, message.id))
  }

  async toggleReaction (message: ChatMessage, emoji: string): Promise<void> {
    const mine = message.reactions?.find((r) => r.emoji === emoji)?.hasReacted === true
    const result = await this.report(mine
      ? this.client.rest.chat.removeReaction(message.groupId, message.id, emoji)
      : this.client.rest.chat.addReaction(message.groupId, message.id, emoji))
    if (result !== null) this.setReactions(message.groupId, message.id, result.reactions)
  }

  typing (isTyping: boolean): void {
    if (this.activeId !== null) this.client.typing(this.activeId, isTyping)
  }

  async createGroup (name: string, memberIds: number[]): Promise<void> {
    const result = await this.report(this.client.rest.groups.create({ name, memberIds }))
    if (result === null) return
    await this.adopt(result.group.id)
  }

  async openDirect (userId: number): Promise<void> {
    const result = await this.report(this.client.rest.groups.openDirect(userId))
    if (result === null) return
    await this.adopt(result.group.id)
  }

  async searchUsers (q: string): Promise<UserProfile[]> {
    if (q.trim().length === 0) return []
    const result = await this.client.rest.users.search({ q: q.trim(), limit: 8 }).catch(() => ({ users: [] }))
    return result.users.filter((user) => user.id !== this.me.id)
  }

  async search (q: string): Promise<SearchMessagesResponse | null> {
    if (this.activeId === null) return null
    return await this.report(this.client.rest.chat.search(this.activeId, { q, limit: 30 }))
  }

  async logout (): Promise<void> {
    await this.client.logout().catch(() => {})
    this.onSignedOut()
  }

  dismissNotice (): void {
    this.notice = null
    this.changed()
  }

  /** A chat the user just entered: into the list, followed, opened. */
  private async adopt (groupId: string): Promise<void> {
    if (!this.chats.has(groupId)) {
      const { groups } = await this.client.rest.groups.list({ limit: 100 })
      const item = groups.find((group) => group.id === groupId)
      if (item === undefined) return
      this.addChat(item)
      await this.loadPeers([item])
    }
    await this.open(groupId)
  }

  private async report<T> (work: Promise<T>): Promise<T | null> {
    try {
      return await work
    } catch (err) {
      this.notice = err instanceof ParleyError ? err.message : 'Something went wrong'
      this.changed()
      return null
    }
  }

  // ---- events from the server ----

  private putMessage (message: ChatMessage): void {
    const chat = this.chats.get(message.groupId)
    if (chat === undefined) return
    const known = chat.messages.get(message.id)
    chat.messages.set(message.id, known === undefined ? message : { ...known, ...message, reactions: message.reactions ?? known.reactions })
    for (const reader of chat.pendingReads.get(message.id) ?? []) this.noteRead(chat, reader, message.seq ?? 0)
    chat.pendingReads.delete(message.id)
    if ((chat.item.lastMessage?.seq ?? 0) <= (message.seq ?? 0)) chat.item.lastMessage = previewOf(message)
    this.changed()
  }

  private received (message: ChatMessage): void {
    const chat = this.chats.get(message.groupId)
    if (chat === undefined) return
    this.putMessage(message)
    const typing = chat.typing.get(message.senderUserId)
    if (typing !== undefined) {
      clearTimeout(typing.timer)
      chat.typing.delete(message.senderUserId)
    }
    if (message.senderUserId === this.me.id) return
    chat.item.unreadCount += 1
    if (this.activeId === message.groupId) this.markActiveRead()
  }

  private setReactions (groupId: string, messageId: string, reactions: ReactionSummary[]): void {
    const message = this.chats.get(groupId)?.messages.get(messageId)
    if (message === undefined) return
    const mine = reactions.map((r) => ({ ...r, hasReacted: r.users === undefined ? r.hasReacted : r.users.includes(this.me.id) }))
    this.chats.get(groupId)?.messages.set(messageId, { ...message, reactions: mine })
    this.changed()
  }

  private setTyping (groupId: string, userId: number, name: string, isTyping: boolean): void {
    const chat = this.chats.get(groupId)
    if (chat === undefined || userId === this.me.id) return
    const current = chat.typing.get(userId)
    if (current !== undefined) clearTimeout(current.timer)
    if (isTyping) {
      const timer = window.setTimeout(() => { chat.typing.delete(userId); this.changed() }, TYPING_DISPLAY_MS)
      chat.typing.set(userId, { name: this.users.get(userId)?.displayName ?? name, timer })
    } else {
      chat.typing.delete(userId)
    }
    this.changed()
  }

  private async memberJoined (groupId: string, userId: number): Promise<void> {
    const chat = this.chats.get(groupId)
    if (userId === this.me.id && chat === undefined) {
      const { groups } = await this.client.rest.groups.list({ limit: 100 })
      const item = groups.find((group) => group.id === groupId)
      if (item !== undefined) {
        this.addChat(item)
        await this.loadPeers([item])
      }
    } else if (chat !== undefined && chat.members !== null) {
      await this.loadMembers(chat)
    }
    this.changed()
  }

  private forget (groupId: string): void {
    this.chats.delete(groupId)
    this.client.leaveGroup(groupId)
    if (this.activeId === groupId) this.activeId = null
    this.changed()
  }

  private listen (): void {
    const { client } = this
    client.on('message', (message) => { this.received(message) })
    client.on('messageEdited', (message) => { this.putMessage(message) })
    client.on('chat:message_deleted', ({ groupId, messageId }) => {
      const message = this.chats.get(groupId)?.messages.get(messageId)
      if (message !== undefined) this.putMessage({ ...message, isDeleted: true, content: '' })
    })
    client.on('chat:reactions_updated', ({ groupId, messageId, reactions }) => { this.setReactions(groupId, messageId, reactions) })
    client.on('chat:typing', ({ groupId, userId, username, isTyping }) => { this.setTyping(groupId, userId, username, isTyping) })
    client.on('chat:presence', ({ userId, status }) => { this.presence.set(userId, status); this.changed() })
    client.on('chat:message_read', ({ groupId, userId, messageIds }) => {
      const chat = this.chats.get(groupId)
      if (chat === undefined) return
      for (const id of messageIds) {
        const seq = chat.messages.get(id)?.seq
        if (seq !== undefined) this.noteRead(chat, userId, seq)
        else chat.pendingReads.set(id, [...chat.pendingReads.get(id) ?? [], userId])
      }
      this.changed()
    })
    client.on('chat:unread_count', ({ groupId, unreadCount }) => {
      const chat = this.chats.get(groupId)
      if (chat !== undefined) chat.item.unreadCount = unreadCount
      this.changed()
    })
    client.on('chat:member_joined', ({ groupId, userId }) => { void this.memberJoined(groupId, userId) })
    client.on('chat:member_left', ({ groupId, userId }) => { if (userId === this.me.id) this.forget(groupId) })
    client.on('chat:group_deleted', ({ groupId }) => { this.forget(groupId) })
    client.on('chat:group_updated', ({ groupId }) => {
      client.rest.groups.get(groupId).then(({ group }) => {
        const chat = this.chats.get(groupId)
        if (chat !== undefined) chat.item = { ...chat.item, ...group }
        this.changed()
      }, () => {})
    })
    client.on('groupUnavailable', ({ groupId }) => { this.forget(groupId) })
    client.on('state', (state) => { this.connection = state; this.changed() })
    client.on('outbox', (entries) => { this.pending = [...entries]; this.changed() })
    client.on('sendFailed', ({ error }) => { this.notice = `Not sent: ${error.message}`; this.changed() })
    client.on('authFailed', () => { this.onSignedOut() })
    document.addEventListener('visibilitychange', () => { this.markActiveRead() })
  }
}

export function newestOf (chat: ChatView): ChatMessage | undefined {
  let newest: ChatMessage | undefined
  for (const message of chat.messages.values()) if (newest === undefined || (message.seq ?? 0) > (newest.seq ?? 0)) newest = message
  return newest
}

export function orderedMessages (chat: ChatView): ChatMessage[] {
  return [...chat.messages.values()].sort((a, b) => (a.seq ?? 0) - (b.seq ?? 0))
}
