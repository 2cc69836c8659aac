import t from 'tap'
import { buildTestApp } from '../../helpers/app.ts'
import { call, createChatGroup, dataOf, sendMessage } from '../../helpers/api.ts'
import type { ChatListResponse } from '../../../schemas/groups.ts'

t.test('the chat list shows each chat\'s newest message and the caller\'s unread count', async (t) => {
  const app = await buildTestApp(t, import.meta.url)
  const { groupId, owner, members } = await createChatGroup(app, { memberCount: 1 })
  const reader = members[0]
  if (reader === undefined) throw new Error('no member')

  const before = dataOf<ChatListResponse>(await call(app, reader, 'GET', '/groups'))
  t.match(before.groups.find((g) => g.id === groupId), { lastMessage: null, unreadCount: 0 }, 'nothing to show before the first message')

  await sendMessage(app, owner, groupId, 'first')
  const second = await sendMessage(app, owner, groupId, 'the newest message of the chat')
  await sendMessage(app, reader, groupId, 'my own reply does not count as unread')

  const list = dataOf<ChatListResponse>(await call(app, reader, 'GET', '/groups'))
  const item = list.groups.find((g) => g.id === groupId)
  t.match(item, { unreadCount: 2, lastMessage: { senderUserId: reader.user.id, preview: 'my own reply does not count as unread', seq: 3 } })

  dataOf(await call(app, reader, 'POST', `/groups/${groupId}/chat/read`, { messageId: second.id }))
  const after = dataOf<ChatListResponse>(await call(app, reader, 'GET', '/groups'))
  t.equal(after.groups.find((g) => g.id === groupId)?.unreadCount, 0, 'reading up to the newest message of others clears the count')

  const ownerView = dataOf<ChatListResponse>(await call(app, owner, 'GET', '/groups'))
  t.equal(ownerView.groups.find((g) => g.id === groupId)?.unreadCount, 1, 'each member has their own count')
})

t.test('a deleted newest message is previewed without its content', async (t) => {
  const app = await buildTestApp(t, import.meta.url)
  const { groupId, owner, members } = await createChatGroup(app, { memberCount: 1 })
  const reader = members[0]
  if (reader === undefined) throw new Error('no member')
  const message = await sendMessage(app, owner, groupId, 'soon gone')
  dataOf(await call(app, owner, 'DELETE', `/groups/${groupId}/chat/messages/${message.id}`))
  const list = dataOf<ChatListResponse>(await call(app, reader, 'GET', '/groups'))
  const item = list.groups.find((g) => g.id === groupId)
  t.match(item, { lastMessage: { id: message.id, preview: null }, unreadCount: 0 })
})
