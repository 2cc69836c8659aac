import { createSecretKey, randomBytes, type KeyObject } from 'node:crypto'
import { fromBin, toBin } from '../ids.ts'
import { forgetOpenedOfGroup } from './opened-records.ts'
import type { KeyRow } from './repository.ts'
import { canonicalGroupId, checkVersion, dataKeyAad, DecryptionError, open, seal } from './sealing.ts'
import type { GroupKeys, KeyringState, VersionedKey } from './state.ts'

/*
 * The groups' data keys: versions read, unwrapped and cached; version 1 created lazily; rotation
 * adds a version; crypto-shredding deletes them all. Every group id here is canonical.
 */

export const DATA_KEY_BYTES = 32
const MAX_ROTATE_ATTEMPTS = 5

function cached (state: KeyringState, groupId: string): GroupKeys {
  let entry = state.groups.get(groupId)
  if (entry === undefined) {
    entry = { versions: new Map(), newest: null, newestCheckedAt: 0 }
    state.groups.set(groupId, entry)
  }
  return entry
}

function remember (state: KeyringState, groupId: string, version: number, key: KeyObject, newest: boolean): void {
  const entry = cached(state, groupId)
  entry.versions.set(version, key)
  if (newest && (entry.newest === null || version >= entry.newest)) {
    entry.newest = version
    entry.newestCheckedAt = Date.now()
  }
}

function unwrap (state: KeyringState, groupId: string, row: KeyRow): KeyObject {
  return createSecretKey(open(state.masterKey, row.wrapped_key, dataKeyAad(groupId, row.version), `the data key v${row.version} of group ${groupId}`))
}

function once (state: KeyringState, key: string, load: () => Promise<VersionedKey>): Promise<VersionedKey> {
  const pending = state.loading.get(key)
  if (pending !== undefined) return pending
  const promise = load().finally(() => state.loading.delete(key))
  state.loading.set(key, promise)
  return promise
}

/** Reads the group's newest key, creating version 1 if the group has none. */
async function loadNewest (state: KeyringState, groupId: string): Promise<VersionedKey> {
  const { repository, masterKey } = state
  const groupBin = toBin(groupId)
  let row = await repository.findNewest(groupBin)
  if (row === null) {
    // Race-safe lazy creation: of concurrent creators (on any instance) exactly one insert
    // wins; everyone then reads back the same row.
    await repository.insertIfAbsent(groupBin, 1, seal(masterKey, randomBytes(DATA_KEY_BYTES), dataKeyAad(groupId, 1)))
    row = await repository.findNewest(groupBin)
    if (row === null) throw new Error(`The data key of group ${groupId} vanished while it was being created`)
  }
  const key = state.groups.get(groupId)?.versions.get(row.version) ?? unwrap(state, groupId, row)
  remember(state, groupId, row.version, key, true)
  return { version: row.version, key }
}

/** The newest key, from the cache while fresh; otherwise read, creating version 1 if the group has none. */
export async function newestKey (state: KeyringState, groupId: string): Promise<VersionedKey> {
  const entry = state.groups.get(groupId)
  if (entry !== undefined && entry.newest !== null && Date.now() - entry.newestCheckedAt < state.newestTtlMs) {
    const key = entry.versions.get(entry.newest)
    if (key !== undefined) return { version: entry.newest, key }
  }
  return await once(state, `newest:${groupId}`, () => loadNewest(state, groupId))
}

async function loadVersion (state: KeyringState, groupId: string, version: number): Promise<VersionedKey> {
  const row = await state.repository.findVersion(toBin(groupId), version)
  if (row === null) throw new DecryptionError(`Cannot decrypt: group ${groupId} has no data key v${version}`)
  const key = unwrap(state, groupId, row)
  remember(state, groupId, version, key, false)
  return { version, key }
}

export async function keyOfVersion (state: KeyringState, groupId: string, version: number): Promise<KeyObject> {
  const known = state.groups.get(groupId)?.versions.get(version)
  if (known !== undefined) return known
  const { key } = await once(state, `v${version}:${groupId}`, () => loadVersion(state, groupId, version))
  return key
}

/** The group's newest data key, for sealing files chunk by chunk (Keyring.dataKey). */
export async function dataKey (state: KeyringState, groupId: string): Promise<VersionedKey> {
  return await newestKey(state, canonicalGroupId(groupId))
}

/** A version of the group's data key (Keyring.dataKeyOfVersion). */
export async function dataKeyOfVersion (state: KeyringState, groupId: string, version: number): Promise<KeyObject> {
  checkVersion(version)
  return await keyOfVersion(state, canonicalGroupId(groupId), version)
}

export async function rotate (state: KeyringState, groupId: string): Promise<number> {
  const { repository, masterKey } = state
  const id = canonicalGroupId(groupId)
  const groupBin = toBin(id)
  // The version is part of the wrapped key's AAD, so it is chosen before the insert; a
  // concurrent rotation taking the same number makes the insert a no-op and we try the next.
  for (let attempt = 0; attempt < MAX_ROTATE_ATTEMPTS; attempt++) {
    const newest = await repository.findNewest(groupBin)
    // Unwrapping the current key first proves this is the master key the group's keys were
    // made with: a wrong one (say, a script run with other secrets) must not add a version
    // that no server could unwrap.
    if (newest !== null) remember(state, id, newest.version, unwrap(state, id, newest), false)
    const version = (newest?.version ?? 0) + 1
    const key = randomBytes(DATA_KEY_BYTES)
    if (await repository.insertIfAbsent(groupBin, version, seal(masterKey, key, dataKeyAad(id, version)))) {
      remember(state, id, version, createSecretKey(key), true)
      return version
    }
  }
  throw new Error(`Could not rotate the data key of group ${id}: too many concurrent rotations`)
}

export async function rotateAll (state: KeyringState): Promise<number> {
  const groupIds = await state.repository.listGroupIds()
  for (const groupBin of groupIds) await rotate(state, fromBin(groupBin))
  return groupIds.length
}

/** Crypto-shredding: the group's keys, and what this instance opened with them, are gone. */
export async function destroyGroupKeys (state: KeyringState, groupId: string): Promise<number> {
  const id = canonicalGroupId(groupId)
  const removed = await state.repository.deleteGroup(toBin(id))
  state.groups.delete(id)
  forgetOpenedOfGroup(state, id)
  return removed
}
