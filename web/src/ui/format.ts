import type { ChatListItem, UserProfile } from '@parley/types'

const time = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' })
const day = new Intl.DateTimeFormat(undefined, { month: 'short', day: 'numeric' })
const fullDay = new Intl.DateTimeFormat(undefined, { weekday: 'long', month: 'long', day: 'numeric' })

/** 14:05 today, "Mar 3" before. */
export function shortTime (value: Date | string): string {
  const date = new Date(value)
  return sameDay(date, new Date()) ? time.format(date) : day.format(date)
}

export function clockTime (value: Date | string): string {
  return time.format(new Date(value))
}

export function dayLabel (value: Date | string): string {
  const date = new Date(value)
  const now = new Date()
  if (sameDay(date, now)) return 'Today'
  if (sameDay(date, new Date(now.getTime() - 86_400_000))) return 'Yesterday'
  return fullDay.format(date)
}

export function sameDay (a: Date, b: Date): boolean {
  return a.getFullYear() === b.getFullYear() && a.getMonth() === b.getMonth() && a.getDate() === b.getDate()
}

/** Up to two initials of a name. */
export function initials (name: string): string {
  const words = name.trim().split(/[\s._-]+/).filter((w) => w.length > 0)
  return words.slice(0, 2).map((word) => [...word][0] ?? '').join('').toUpperCase() || '?'
}

const HUES = [250, 200, 160, 20, 330, 280, 40, 180, 300, 0]

/** A stable color for a name or id. */
export function hueOf (key: string | number): number {
  let hash = 0
  for (const char of String(key)) hash = (hash * 31 + char.charCodeAt(0)) >>> 0
  return HUES[hash % HUES.length] ?? 250
}

export function displayName (user: Pick<UserProfile, 'displayName' | 'username'>): string {
  return user.displayName ?? user.username
}

/** The name a chat shows: the other member of a direct chat, the group's name otherwise. */
export function chatTitle (item: Pick<ChatListItem, 'name' | 'type' | 'peerUserId'>, peers: Map<number, UserProfile>): string {
  if (item.type !== 'direct') return item.name
  const peer = item.peerUserId === null ? undefined : peers.get(item.peerUserId)
  return peer === undefined ? 'Direct chat' : displayName(peer)
}
