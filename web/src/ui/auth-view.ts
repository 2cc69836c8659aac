import { ParleyError } from '@parley/client'
import { h, icon, ICONS, replaceChildren } from './dom.ts'

export interface Credentials {
  mode: 'login' | 'register'
  username: string
  email: string
  displayName: string
  password: string
}

/** The sign-in / sign-up card. `submit` resolves once signed in, or rejects with what went wrong. */
export function renderAuth (root: HTMLElement, submit: (credentials: Credentials) => Promise<void>): void {
  let mode: Credentials['mode'] = 'login'
  const error = h('p', { class: 'form-error', role: 'alert', 'data-testid': 'auth-error' })
  const username = h('input', { name: 'username', autocomplete: 'username', required: true, minlength: 3, maxlength: 32, placeholder: 'alice' })
  const email = h('input', { name: 'email', type: 'email', autocomplete: 'email', placeholder: 'alice@example.com' })
  const displayName = h('input', { name: 'displayName', autocomplete: 'name', maxlength: 64, placeholder: 'Alice Martin' })
  const password = h('input', { name: 'password', type: 'password', autocomplete: 'current-password', required: true, minlength: 8, placeholder: '8 characters or more' })
  const button = h('button', { class: 'button primary wide', type: 'submit' }, 'Sign in')
  const registerOnly = [
    h('label', { class: 'field' }, h('span', {}, 'Email'), email),
    h('label', { class: 'field' }, h('span', {}, 'Display name'), displayName)
  ]
  const tabs = {
    login: h('button', { type: 'button', class: 'tab active', onclick: () => { switchTo('login') } }, 'Sign in'),
    register: h('button', { type: 'button', class: 'tab', onclick: () => { switchTo('register') } }, 'Create account')
  }

  function switchTo (next: Credentials['mode']): void {
    mode = next
    tabs.login.classList.toggle('active', mode === 'login')
    tabs.register.classList.toggle('active', mode === 'register')
    for (const field of registerOnly) field.hidden = mode === 'login'
    email.required = mode === 'register'
    password.autocomplete = mode === 'login' ? 'current-password' : 'new-password'
    button.textContent = mode === 'login' ? 'Sign in' : 'Create account'
    error.textContent = ''
  }

  const form = h('form', {
    class: 'auth-form',
    onsubmit: (event) => {
      event.preventDefault()
      error.textContent = ''
      button.disabled = true
      submit({ mode, username: username.value.trim(), email: email.value.trim(), displayName: displayName.value.trim(), password: password.value })
        .catch((err: unknown) => {
          error.textContent = describe(err)
          button.disabled = false
        })
    }
  },
  h('label', { class: 'field' }, h('span', {}, 'Username'), username),
  ...registerOnly,
  h('label', { class: 'field' }, h('span', {}, 'Password'), password),
  error,
  button)

  switchTo('login')
  replaceChildren(root, h('main', { class: 'auth' },
    h('section', { class: 'auth-card' },
      h('div', { class: 'brand' }, h('span', { class: 'brand-mark' }, icon(ICONS.chat)), h('span', {}, 'Parley')),
      h('p', { class: 'auth-lede' }, 'Real-time group chat, end to end on @parley/client.'),
      h('div', { class: 'tabs', role: 'tablist' }, tabs.login, tabs.register),
      form)))
  username.focus()
}

function describe (err: unknown): string {
  if (!(err instanceof ParleyError)) return 'Something went wrong. Try again.'
  if (err.code === 'UNAUTHORIZED') return 'Wrong username or password.'
  if (err.code === 'CONFLICT') return 'That username or email is taken.'
  if (err.code === 'NETWORK_ERROR') return 'The server cannot be reached.'
  const first = err.validationErrors[0]
  return first !== undefined ? `${first.field.replace(/^\/?(body\.)?/, '')}: ${first.message}` : err.message
}
