import type { ChatView, Store } from '../store.ts'
import { ChatPane } from './chat-pane.ts'
import { openDirectDialog, openGroupDialog } from './dialogs.ts'
import { avatar } from './avatar.ts'
import { h, icon, ICONS, replaceChildren } from './dom.ts'
import { chatTitle, displayName, shortTime } from './format.ts'

const CONNECTION_LABELS: Record<Store['connection'], string> = {
  idle: 'Connecting…',
  connecting: 'Connecting…',
  open: 'Online',
  reconnecting: 'Offline — reconnecting',
  stopped: 'Disconnected'
}

/** The signed-in app: the chat list on the left, the open conversation on the right. */
export class AppView {
  private readonly store: Store
  private readonly sidebarList = h('nav', { class: 'chat-list', 'aria-label': 'Chats', 'data-testid': 'chat-list' })
  private readonly connection = h('span', { class: 'connection', 'data-testid': 'connection' })
  private readonly notice = h('div', { class: 'notice', role: 'status' })
  private readonly pane: ChatPane
  private readonly layout: HTMLElement

  constructor (root: HTMLElement, store: Store) {
    this.store = store
    this.pane = new ChatPane(store)
    const me = store.me
    const sidebar = h('aside', { class: 'sidebar' },
      h('header', { class: 'sidebar-header' },
        avatar(displayName(me), me.id, undefined, 'md'),
        h('div', { class: 'me' },
          h('strong', { 'data-testid': 'me' }, displayName(me)),
          this.connection),
        h('button', { class: 'icon-button', title: 'Sign out', 'aria-label': 'Sign out', onclick: () => { void store.logout() } }, icon(ICONS.logout))),
      h('div', { class: 'sidebar-actions' },
        h('button', { class: 'button primary', 'data-testid': 'new-group', onclick: () => { openGroupDialog(store) } }, icon(ICONS.group), 'New group'),
        h('button', { class: 'button', 'data-testid': 'new-direct', onclick: () => { openDirectDialog(store) } }, icon(ICONS.chat), 'New chat')),
      this.sidebarList)
    replaceChildren(root, this.layout = h('div', { class: 'layout' }, sidebar, this.pane.element, this.notice))
    store.subscribe(() => { this.render() })
    this.render()
  }

  private render (): void {
    const { store } = this
    this.connection.textContent = CONNECTION_LABELS[store.connection]
    this.connection.className = `connection ${store.connection}`
    this.layout.classList.toggle('has-active', store.activeId !== null)
    this.renderList()
    this.renderNotice()
    this.pane.render()
  }

  private renderNotice (): void {
    const text = this.store.notice
    this.notice.hidden = text === null
    if (text !== null) {
      replaceChildren(this.notice, h('span', {}, text),
        h('button', { class: 'icon-button', 'aria-label': 'Dismiss', onclick: () => { this.store.dismissNotice() } }, icon(ICONS.close)))
    }
  }

  private renderList (): void {
    const chats = this.store.sortedChats
    if (chats.length === 0) {
      replaceChildren(this.sidebarList, h('p', { class: 'empty' }, 'No chats yet. Start one with New group or New chat.'))
      return
    }
    replaceChildren(this.sidebarList, ...chats.map((chat) => this.listItem(chat)))
  }

  private senderPrefix (type: ChatView['item']['type'], senderId: number, username: string | null): string {
    if (senderId === this.store.me.id) return 'You: '
    if (type === 'direct') return ''
    const sender = this.store.users.get(senderId)
    return `${sender === undefined ? username ?? '' : displayName(sender).split(' ')[0] ?? ''}: `
  }

  private listItem (chat: ChatView): HTMLElement {
    const { store } = this
    const { item } = chat
    const title = chatTitle(item, store.users)
    const last = item.lastMessage
    const typing = [...chat.typing.values()].map((t) => t.name)
    const preview = typing.length > 0
      ? h('span', { class: 'typing-text' }, `${typing.join(', ')} typing…`)
      : last === null
        ? h('span', { class: 'muted' }, 'No messages yet')
        : h('span', {}, `${this.senderPrefix(item.type, last.senderUserId, last.senderUsername)}${last.preview ?? 'Message deleted'}`)
    const online = item.type === 'direct' && item.peerUserId !== null ? store.presence.get(item.peerUserId) === 'online' : undefined
    return h('button', {
      class: `chat-item ${store.activeId === item.id ? 'active' : ''}`,
      'data-testid': 'chat-item',
      'data-group-id': item.id,
      onclick: () => { void store.open(item.id) }
    },
    avatar(title, item.type === 'direct' ? (item.peerUserId ?? item.id) : item.id, online),
    h('span', { class: 'chat-item-body' },
      h('span', { class: 'chat-item-top' },
        h('span', { class: 'chat-item-title' }, title),
        h('time', { class: 'chat-item-time' }, last === null ? '' : shortTime(last.createdAt))),
      h('span', { class: 'chat-item-bottom' },
        h('span', { class: 'chat-item-preview' }, preview),
        item.unreadCount > 0 ? h('span', { class: 'badge', 'data-testid': 'unread-badge' }, item.unreadCount > 99 ? '99+' : item.unreadCount) : null)))
  }
}
