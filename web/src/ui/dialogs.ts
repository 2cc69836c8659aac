import type { UserProfile } from '@parley/types'
import type { Store } from '../store.ts'
import { avatar } from './avatar.ts'
import { h, icon, ICONS, replaceChildren } from './dom.ts'
import { displayName } from './format.ts'

/** A modal dialog; returns the function that closes it. */
function modal (title: string, testId: string, body: HTMLElement[], footer: HTMLElement[]): () => void {
  const dialog = h('dialog', { class: 'dialog', 'data-testid': testId, 'aria-label': title })
  const close = (): void => {
    dialog.close()
    dialog.remove()
  }
  dialog.append(
    h('header', { class: 'dialog-header' },
      h('h2', {}, title),
      h('button', { class: 'icon-button', type: 'button', 'aria-label': 'Close', onclick: close }, icon(ICONS.close))),
    h('div', { class: 'dialog-body' }, ...body),
    h('footer', { class: 'dialog-footer' }, ...footer))
  dialog.addEventListener('cancel', close)
  document.body.append(dialog)
  dialog.showModal()
  return close
}

/** A username search that lists matches as buttons. */
function userPicker (store: Store, onPick: (user: UserProfile) => void): { input: HTMLInputElement, results: HTMLElement } {
  const results = h('div', { class: 'user-results', 'data-testid': 'user-results' })
  let searchId = 0
  const input = h('input', {
    class: 'input',
    placeholder: 'Search people by username',
    'data-testid': 'user-search',
    oninput: () => {
      const id = ++searchId
      void store.searchUsers(input.value).then((users) => {
        if (id !== searchId) return
        replaceChildren(results, ...(users.length === 0 && input.value.trim() !== ''
          ? [h('p', { class: 'muted' }, 'Nobody by that name.')]
          : users.map((user) => h('button', { type: 'button', class: 'user-result', 'data-testid': 'user-result', 'data-username': user.username, onclick: () => { onPick(user) } },
            avatar(displayName(user), user.id, undefined, 'sm'),
            h('span', {}, h('strong', {}, displayName(user)), h('small', {}, `@${user.username}`))))))
      })
    }
  })
  return { input, results }
}

export function openDirectDialog (store: Store): void {
  const { input, results } = userPicker(store, (user) => {
    close()
    void store.openDirect(user.id)
  })
  const close = modal('New chat', 'direct-dialog', [input, results], [])
  input.focus()
}

export function openGroupDialog (store: Store): void {
  const chosen = new Map<number, UserProfile>()
  const chips = h('div', { class: 'chips', 'data-testid': 'chosen-members' })
  const name = h('input', { class: 'input', placeholder: 'Group name', maxlength: 100, 'data-testid': 'group-name' })
  const create = h('button', { class: 'button primary', type: 'button', 'data-testid': 'create-group' }, 'Create group')
  const renderChips = (): void => {
    replaceChildren(chips, ...[...chosen.values()].map((user) => h('span', { class: 'chip' }, displayName(user),
      h('button', { type: 'button', 'aria-label': `Remove ${displayName(user)}`, onclick: () => { chosen.delete(user.id); renderChips() } }, '×'))))
  }
  const { input, results } = userPicker(store, (user) => {
    chosen.set(user.id, user)
    input.value = ''
    replaceChildren(results)
    renderChips()
    input.focus()
  })
  create.addEventListener('click', () => {
    if (name.value.trim() === '') {
      name.focus()
      return
    }
    close()
    void store.createGroup(name.value.trim(), [...chosen.keys()])
  })
  const close = modal('New group', 'group-dialog', [name, h('label', { class: 'label' }, 'Members'), chips, input, results], [create])
  name.focus()
}
