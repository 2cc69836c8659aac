import type { ChatMessage } from '@parley/types'
import { orderedMessages, type ChatView, type Store } from '../store.ts'
import { avatar } from './avatar.ts'
import { h, icon, ICONS, replaceChildren } from './dom.ts'
import { chatTitle, clockTime, dayLabel, displayName, sameDay } from './format.ts'

const QUICK_REACTIONS = ['👍', '❤️', '😂', '🎉', '😮', '😢']
/** Typing stops being announced this long after the last keystroke. */
const TYPING_IDLE_MS = 3000

/** The open conversation: header, messages, typing line and composer. */
export class ChatPane {
  readonly element: HTMLElement
  private readonly store: Store
  private readonly header = h('header', { class: 'chat-header' })
  private readonly searchBar: HTMLElement
  private readonly searchInput: HTMLInputElement
  private readonly searchResults = h('div', { class: 'search-results', 'data-testid': 'search-results' })
  private readonly scroller = h('div', { class: 'messages', 'data-testid': 'messages' })
  private readonly list = h('div', { class: 'message-list' })
  private readonly typingLine = h('div', { class: 'typing-line', 'data-testid': 'typing', 'aria-live': 'polite' })
  private readonly composerBar = h('div', { class: 'composer-bar' })
  private readonly textarea: HTMLTextAreaElement
  private readonly rows = new Map<string, { key: string, element: HTMLElement }>()
  private shownGroup: string | null = null
  private replyTo: ChatMessage | null = null
  private editing: ChatMessage | null = null
  private typingTimer = 0
  private typingSent = false
  private picker: HTMLElement | null = null

  constructor (store: Store) {
    this.store = store
    this.textarea = h('textarea', {
      class: 'composer-input',
      rows: 1,
      placeholder: 'Write a message…',
      'data-testid': 'composer',
      'aria-label': 'Message',
      onkeydown: (event) => { this.onKey(event as KeyboardEvent) },
      oninput: () => { this.onInput() }
    })
    this.searchInput = h('input', {
      class: 'input',
      type: 'search',
      placeholder: 'Search this chat',
      'data-testid': 'search-input',
      onkeydown: (event) => { if ((event as KeyboardEvent).key === 'Enter') void this.search() }
    })
    this.searchBar = h('div', { class: 'search-bar', hidden: true }, this.searchInput, this.searchResults)
    this.scroller.append(this.list)
    this.scroller.addEventListener('scroll', () => {
      if (this.scroller.scrollTop < 40) void this.store.loadOlder()
    })
    const form = h('form', { class: 'composer', onsubmit: (event) => { event.preventDefault(); void this.submit() } },
      this.textarea,
      h('button', { class: 'send-button', type: 'submit', 'aria-label': 'Send', 'data-testid': 'send' }, icon(ICONS.send)))
    this.element = h('section', { class: 'chat-pane' }, this.header, this.searchBar, this.scroller, this.typingLine, this.composerBar, form)
    document.addEventListener('click', (event) => {
      if (this.picker !== null && !this.picker.contains(event.target as Node)) this.closePicker()
    })
  }

  render (): void {
    const chat = this.store.active
    this.element.classList.toggle('empty-pane', chat === null)
    if (chat === null) {
      this.shownGroup = null
      replaceChildren(this.header)
      replaceChildren(this.list, h('div', { class: 'placeholder' },
        h('span', { class: 'brand-mark large' }, icon(ICONS.chat)),
        h('h2', {}, 'Pick a chat'),
        h('p', {}, 'Or start one: New group, New chat.')))
      this.rows.clear()
      return
    }
    if (this.shownGroup !== chat.item.id) this.switchTo(chat)
    this.renderHeader(chat)
    this.renderMessages(chat)
    this.renderTyping(chat)
    this.renderComposerBar()
  }

  private switchTo (chat: ChatView): void {
    this.shownGroup = chat.item.id
    this.rows.clear()
    replaceChildren(this.list)
    this.replyTo = null
    this.editing = null
    this.textarea.value = ''
    this.searchBar.hidden = true
    replaceChildren(this.searchResults)
    this.textarea.focus()
  }

  private renderHeader (chat: ChatView): void {
    const { store } = this
    const { item } = chat
    const title = chatTitle(item, store.users)
    let subtitle: string
    if (item.type === 'direct') {
      subtitle = item.peerUserId !== null && store.presence.get(item.peerUserId) === 'online' ? 'online' : 'offline'
    } else {
      const online = (chat.members ?? []).filter((m) => m.userId !== store.me.id && store.presence.get(m.userId) === 'online').length
      subtitle = `${item.memberCount} members${online > 0 ? ` · ${online} online` : ''}`
    }
    const presence = item.type === 'direct' && item.peerUserId !== null ? store.presence.get(item.peerUserId) === 'online' : undefined
    replaceChildren(this.header,
      h('button', { class: 'icon-button back', 'aria-label': 'Back to chats', onclick: () => { store.close() } }, icon(ICONS.back)),
      avatar(title, item.type === 'direct' ? (item.peerUserId ?? item.id) : item.id, presence),
      h('div', { class: 'chat-header-text' },
        h('h1', { 'data-testid': 'chat-title' }, title),
        h('span', { class: `subtitle ${subtitle === 'online' ? 'online' : ''}`, 'data-testid': 'chat-subtitle' }, subtitle)),
      h('button', {
        class: 'icon-button',
        title: 'Search',
        'aria-label': 'Search messages',
        'data-testid': 'search-toggle',
        onclick: () => {
          this.searchBar.hidden = !this.searchBar.hidden
          if (!this.searchBar.hidden) this.searchInput.focus()
        }
      }, icon(ICONS.search)))
  }

  private renderMessages (chat: ChatView): void {
    const atBottom = this.scroller.scrollHeight - this.scroller.scrollTop - this.scroller.clientHeight < 80
    const previousHeight = this.scroller.scrollHeight
    const firstBefore = this.list.firstElementChild
    const messages = orderedMessages(chat)
    const newestOwn = [...messages].reverse().find((m) => m.senderUserId === this.store.me.id)
    const children: HTMLElement[] = []
    if (chat.hasOlder) children.push(h('div', { class: 'older' }, chat.loadingOlder ? 'Loading…' : ''))
    let previous: ChatMessage | undefined
    for (const message of messages) {
      if (previous === undefined || !sameDay(new Date(previous.createdAt), new Date(message.createdAt))) {
        children.push(h('div', { class: 'day' }, h('span', {}, dayLabel(message.createdAt))))
      }
      children.push(this.row(chat, message, previous, message === newestOwn))
      previous = message
    }
    for (const entry of this.store.pending.filter((e) => e.groupId === chat.item.id)) {
      children.push(h('div', { class: 'message own pending', 'data-testid': 'pending-message' },
        h('div', { class: 'bubble-wrap' }, h('div', { class: 'bubble' },
          h('span', { class: 'content' }, entry.message.content),
          h('span', { class: 'meta' }, icon(ICONS.clock), 'Sending…')))))
    }
    if (messages.length === 0 && chat.historyLoaded && children.length === 0) {
      children.push(h('div', { class: 'placeholder small' }, h('p', {}, 'No messages yet. Say hello!')))
    }
    this.list.replaceChildren(...children)
    const ownJustSent = previous !== undefined && previous.senderUserId === this.store.me.id
    if (atBottom || ownJustSent || firstBefore === null) this.scroller.scrollTop = this.scroller.scrollHeight
    else if (this.scroller.scrollTop < 40) this.scroller.scrollTop += this.scroller.scrollHeight - previousHeight
  }

  /** One message row, reused while nothing it shows has changed. */
  private row (chat: ChatView, message: ChatMessage, previous: ChatMessage | undefined, newestOwn: boolean): HTMLElement {
    const receipt = newestOwn ? this.receiptOf(chat, message) : ''
    const grouped = previous !== undefined && previous.senderUserId === message.senderUserId &&
      new Date(message.createdAt).getTime() - new Date(previous.createdAt).getTime() < 5 * 60_000 && sameDay(new Date(previous.createdAt), new Date(message.createdAt))
    const sender = this.store.users.get(message.senderUserId)
    const key = JSON.stringify([message.content, message.isEdited, message.isDeleted, message.reactions, receipt, grouped, sender?.displayName])
    const known = this.rows.get(message.id)
    if (known !== undefined && known.key === key) return known.element
    const element = this.buildRow(chat, message, grouped, receipt)
    this.rows.set(message.id, { key, element })
    return element
  }

  private buildRow (chat: ChatView, message: ChatMessage, grouped: boolean, receipt: string): HTMLElement {
    const own = message.senderUserId === this.store.me.id
    const name = this.nameOf(message)
    const quote = message.metadata?.replyPreview
    const quoted = quote === undefined ? undefined : chat.messages.get(quote.messageId)
    const quotedSender = quoted === undefined ? undefined : this.store.users.get(quoted.senderUserId)
    const bubble = h('div', { class: 'bubble' },
      quote === undefined
        ? null
        : h('button', { type: 'button', class: 'quote', 'data-testid': 'reply-quote', onclick: () => { this.reveal(quote.messageId) } },
          h('strong', {}, quotedSender === undefined ? quote.senderUsername : displayName(quotedSender)), h('span', {}, quote.content)),
      message.isDeleted
        ? h('span', { class: 'content deleted', 'data-testid': 'message-content' }, 'Message deleted')
        : h('span', { class: 'content', 'data-testid': 'message-content' }, message.content),
      h('span', { class: 'meta' },
        message.isEdited && !message.isDeleted ? h('span', { class: 'edited', 'data-testid': 'edited' }, 'edited') : null,
        clockTime(message.createdAt)))
    const reactions = (message.reactions ?? []).filter((r) => r.count > 0)
    return h('div', {
      class: `message ${own ? 'own' : ''} ${grouped ? 'grouped' : ''}`,
      'data-testid': 'message',
      'data-id': message.id,
      'data-seq': message.seq ?? 0
    },
    own || grouped || chat.item.type === 'direct' ? h('span', { class: 'avatar-space' }) : avatar(name, message.senderUserId, undefined, 'sm'),
    h('div', { class: 'bubble-wrap' },
      !own && !grouped && chat.item.type !== 'direct' ? h('span', { class: 'sender' }, name) : null,
      bubble,
      reactions.length === 0
        ? null
        : h('div', { class: 'reactions' }, ...reactions.map((r) => h('button', {
          type: 'button',
          class: `reaction ${r.hasReacted === true ? 'mine' : ''}`,
          'data-testid': 'reaction',
          title: (r.users ?? []).map((id) => this.store.users.get(id)?.username ?? `#${id}`).join(', '),
          onclick: () => { void this.store.toggleReaction(message, r.emoji) }
        }, `${r.emoji} ${r.count}`))),
      receipt === '' ? null : h('span', { class: 'receipt', 'data-testid': 'receipt' }, receipt)),
    message.isDeleted ? null : this.actions(message, own))
  }

  private actions (message: ChatMessage, own: boolean): HTMLElement {
    const react = h('button', { type: 'button', class: 'icon-button small', title: 'React', 'aria-label': 'React', 'data-testid': 'react' }, icon(ICONS.smile))
    const actions = h('div', { class: 'actions' })
    react.addEventListener('click', (event) => {
      event.stopPropagation()
      this.openPicker(actions, message)
    })
    actions.append(
      h('button', { type: 'button', class: 'icon-button small', title: 'Reply', 'aria-label': 'Reply', 'data-testid': 'reply', onclick: () => { this.startReply(message) } }, icon(ICONS.reply)),
      react,
      ...(own ? [h('button', { type: 'button', class: 'icon-button small', title: 'Edit', 'aria-label': 'Edit', 'data-testid': 'edit', onclick: () => { this.startEdit(message) } }, icon(ICONS.edit))] : []),
      ...(own ? [h('button', { type: 'button', class: 'icon-button small', title: 'Delete', 'aria-label': 'Delete', 'data-testid': 'delete', onclick: () => { void this.store.remove(message) } }, icon(ICONS.trash))] : []))
    return actions
  }

  /** "Seen by Bob, Carol" once others read it, "Sent" before. */
  private receiptOf (chat: ChatView, message: ChatMessage): string {
    const seq = message.seq ?? 0
    const readers = [...chat.readUpTo.entries()]
      .filter(([userId, upTo]) => userId !== this.store.me.id && upTo >= seq)
      .map(([userId]) => { const user = this.store.users.get(userId); return user === undefined ? `#${userId}` : displayName(user) })
    if (readers.length === 0) return 'Sent'
    return chat.item.type === 'direct' ? 'Seen' : `Seen by ${readers.join(', ')}`
  }

  private renderTyping (chat: ChatView): void {
    const names = [...chat.typing.values()].map((t) => t.name)
    this.typingLine.textContent = names.length === 0 ? '' : `${names.join(', ')} ${names.length === 1 ? 'is' : 'are'} typing…`
    this.typingLine.classList.toggle('visible', names.length > 0)
  }

  private renderComposerBar (): void {
    const target = this.editing ?? this.replyTo
    if (target === null) {
      replaceChildren(this.composerBar)
      this.composerBar.hidden = true
      return
    }
    this.composerBar.hidden = false
    replaceChildren(this.composerBar,
      icon(this.editing !== null ? ICONS.edit : ICONS.reply),
      h('div', { class: 'composer-bar-text', 'data-testid': this.editing !== null ? 'editing-bar' : 'reply-bar' },
        h('strong', {}, this.editing !== null ? 'Editing message' : `Replying to ${target.senderUsername ?? ''}`),
        h('span', {}, target.content)),
      h('button', { type: 'button', class: 'icon-button small', 'aria-label': 'Cancel', onclick: () => { this.cancelBar() } }, icon(ICONS.close)))
  }

  private startReply (message: ChatMessage): void {
    this.editing = null
    this.replyTo = message
    this.renderComposerBar()
    this.textarea.focus()
  }

  private startEdit (message: ChatMessage): void {
    this.replyTo = null
    this.editing = message
    this.textarea.value = message.content
    this.renderComposerBar()
    this.textarea.focus()
  }

  private cancelBar (): void {
    if (this.editing !== null) this.textarea.value = ''
    this.editing = null
    this.replyTo = null
    this.renderComposerBar()
  }

  private openPicker (anchor: HTMLElement, message: ChatMessage): void {
    this.closePicker()
    this.picker = h('div', { class: 'picker', role: 'menu', 'data-testid': 'reaction-picker' }, ...QUICK_REACTIONS.map((emoji) => h('button', {
      type: 'button',
      class: 'picker-emoji',
      'aria-label': `React ${emoji}`,
      onclick: () => {
        this.closePicker()
        void this.store.toggleReaction(message, emoji)
      }
    }, emoji)))
    anchor.append(this.picker)
    anchor.classList.add('open')
  }

  private closePicker (): void {
    this.picker?.parentElement?.classList.remove('open')
    this.picker?.remove()
    this.picker = null
  }

  private reveal (messageId: string): void {
    const row = this.list.querySelector<HTMLElement>(`[data-id="${CSS.escape(messageId)}"]`)
    if (row === null) return
    row.scrollIntoView({ block: 'center', behavior: 'smooth' })
    row.classList.add('flash')
    window.setTimeout(() => { row.classList.remove('flash') }, 1500)
  }

  private onKey (event: KeyboardEvent): void {
    if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
      event.preventDefault()
      void this.submit()
    } else if (event.key === 'Escape') {
      this.cancelBar()
    }
  }

  /** Typing start on the first keystroke, stop after a pause, on send or when the box empties. */
  private onInput (): void {
    this.textarea.style.height = 'auto'
    this.textarea.style.height = `${Math.min(this.textarea.scrollHeight, 160)}px`
    if (this.editing !== null) return
    window.clearTimeout(this.typingTimer)
    if (this.textarea.value.trim() === '') {
      this.stopTyping()
      return
    }
    if (!this.typingSent) {
      this.typingSent = true
      this.store.typing(true)
    }
    this.typingTimer = window.setTimeout(() => { this.stopTyping() }, TYPING_IDLE_MS)
  }

  private stopTyping (): void {
    window.clearTimeout(this.typingTimer)
    if (!this.typingSent) return
    this.typingSent = false
    this.store.typing(false)
  }

  private async submit (): Promise<void> {
    const text = this.textarea.value.trim()
    if (text === '') return
    this.textarea.value = ''
    this.textarea.style.height = 'auto'
    const editing = this.editing
    const replyTo = this.replyTo
    this.editing = null
    this.replyTo = null
    this.renderComposerBar()
    this.typingSent = false
    window.clearTimeout(this.typingTimer)
    if (editing !== null) await this.store.edit(editing, text)
    else await this.store.send(text, replyTo)
  }

  private async search (): Promise<void> {
    const q = this.searchInput.value.trim()
    if (q.length < 2) return
    const result = await this.store.search(q)
    if (result === null) return
    replaceChildren(this.searchResults,
      h('p', { class: 'muted' }, `${result.count} result${result.count === 1 ? '' : 's'}`),
      ...result.messages.map((message) => h('button', {
        type: 'button',
        class: 'search-result',
        'data-testid': 'search-result',
        onclick: () => { this.reveal(message.id) }
      }, h('strong', {}, this.nameOf(message)), h('span', {}, message.content), h('time', {}, clockTime(message.createdAt)))))
  }

  private nameOf (message: ChatMessage): string {
    const sender = this.store.users.get(message.senderUserId)
    return sender !== undefined ? displayName(sender) : message.senderUsername ?? 'Someone'
  }
}
