import { ATTACHMENT_LIMITS } from '../../../schemas/attachments.ts'
import { fromBin, toBin } from '../../lib/ids.ts'
import { removeStored } from './upload.ts'
import type { AttachmentDeps } from './deps.ts'

const SWEEP_BATCH = 100

export interface SweepResult {
  /** Unattached uploads removed (row and files). */
  uploads: number
  /** Groups gone whose files were still stored. */
  groups: number
}

/**
 * Removes uploads no message claimed within a day (their rows, then their files), and the
 * files of groups that no longer exist: a group deleted by any path loses its rows with it
 * (cascade), and whatever files the deletion itself did not get to are removed here.
 */
export async function sweepAttachments (deps: AttachmentDeps): Promise<SweepResult> {
  const before = new Date(deps.clock.now() - ATTACHMENT_LIMITS.unattachedTtlMs)
  let uploads = 0
  for (;;) {
    const batch = await deps.repo.unattachedBefore(before, SWEEP_BATCH)
    for (const row of batch) {
      // One row at a time, only while still unattached: a send claiming it meanwhile wins.
      if (!await deps.repo.deleteUnattached(row.group_id, row.id)) continue
      await removeStored(deps, row.storage_key, row.thumbnail_size !== null)
      uploads += 1
    }
    if (batch.length < SWEEP_BATCH) break
  }

  const prefixes = await deps.storage.listPrefixes()
  const existing = new Set((await deps.repo.existingGroups(prefixes.map((p) => toBin(p)))).map((bin) => fromBin(bin)))
  const gone = prefixes.filter((prefix) => !existing.has(prefix))
  for (const prefix of gone) await deps.storage.deletePrefix(prefix)
  return { uploads, groups: gone.length }
}
