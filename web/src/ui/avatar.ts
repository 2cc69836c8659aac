import { h } from './dom.ts'
import { hueOf, initials } from './format.ts'

/** An avatar: initials on a color of the name, with an optional presence dot. */
export function avatar (name: string, key: string | number, online?: boolean, size: 'sm' | 'md' | 'lg' = 'md'): HTMLElement {
  const element = h('span', { class: `avatar ${size}`, style: `--hue: ${hueOf(key)}`, 'aria-hidden': 'true' }, initials(name))
  if (online !== undefined) element.append(h('span', { class: `presence-dot ${online ? 'online' : ''}` }))
  return element
}
