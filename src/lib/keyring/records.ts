import type { KeyObject } from 'node:crypto'
import type { SealContext, Sealed } from '../keyring.ts'
import { keyOfVersion, newestKey } from './key-versions.ts'
import { canonicalGroupId, canonicalRecordId, checkVersion, open, recordAad, seal } from './sealing.ts'
import type { KeyringState } from './state.ts'

/*
 * Records sealed under the group's newest data key and opened under the version that sealed
 * them (the hot paths: every send seals, every page of history opens), through the cache of
 * opened records.
 */

export async function encrypt (state: KeyringState, groupId: string, plaintext: string, context: SealContext): Promise<Sealed> {
  const id = canonicalGroupId(groupId)
  const { version, key } = await newestKey(state, id)
  const aad = recordAad(id, canonicalRecordId(context.recordId), version, context.field)
  return { ciphertext: seal(key, Buffer.from(plaintext, 'utf8'), aad), keyVersion: version }
}

/** Opens one record of a group whose key is at hand (`id` canonical), through the cache of opened records. */
function openRecord (state: KeyringState, id: string, key: KeyObject, sealed: Sealed, context: SealContext): string {
  const { opened } = state
  const recordId = canonicalRecordId(context.recordId)
  const aad = recordAad(id, recordId, sealed.keyVersion, context.field)
  const known = opened?.get(aad)
  if (known !== undefined && known.ciphertext.equals(sealed.ciphertext)) return known.text
  const text = open(key, sealed.ciphertext, aad, `${context.field} of record ${recordId}`).toString('utf8')
  opened?.set(aad, { ciphertext: Buffer.from(sealed.ciphertext), text })
  return text
}

export async function decrypt (state: KeyringState, groupId: string, sealed: Sealed, context: SealContext): Promise<string> {
  const id = canonicalGroupId(groupId)
  checkVersion(sealed.keyVersion)
  return openRecord(state, id, await keyOfVersion(state, id, sealed.keyVersion), sealed, context)
}

export async function decryptAll (state: KeyringState, groupId: string, records: ReadonlyArray<{ sealed: Sealed, context: SealContext }>): Promise<string[]> {
  const id = canonicalGroupId(groupId)
  const keys = new Map<number, KeyObject>()
  for (const { sealed } of records) {
    if (keys.has(sealed.keyVersion)) continue
    checkVersion(sealed.keyVersion)
    keys.set(sealed.keyVersion, await keyOfVersion(state, id, sealed.keyVersion))
  }
  return records.map(({ sealed, context }) => openRecord(state, id, keys.get(sealed.keyVersion) as KeyObject, sealed, context))
}
