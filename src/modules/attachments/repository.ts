import type { Insertable, Kysely } from 'kysely'
import type { AttachmentRow, AttachmentsTable, Database } from '../../../db/database.ts'

/**
 * Every query of the attachments area. An attachment is always addressed by group id and
 * attachment id together, so an id from another group is simply not found.
 */
export function attachmentRepository (db: Kysely<Database>) {
  return {
    async insert (row: Insertable<AttachmentsTable>): Promise<void> {
      await db.insertInto('mirror_group_chat_attachments').values(row).execute()
    },

    /** The upload a client upload id names, if the uploader stored one under it in the group. */
    async findByUploadId (groupBin: Buffer, uploaderId: number, uploadId: string): Promise<AttachmentRow | null> {
      const row = await db.selectFrom('mirror_group_chat_attachments').selectAll()
        .where('group_id', '=', groupBin).where('uploader_user_id', '=', uploaderId).where('client_upload_id', '=', uploadId)
        .executeTakeFirst()
      return row ?? null
    },

    /**
     * The attachment if `userId` may download it: a member of its group to whom its message is
     * visible (not deleted, not cleared for them), or, before a message carries it, its uploader.
     */
    async findDownloadable (groupBin: Buffer, attachmentBin: Buffer, userId: number): Promise<AttachmentRow | null> {
      const row = await db.selectFrom('mirror_group_chat_attachments as a')
        .innerJoin('mirror_group_members as mb', (join) => join.onRef('mb.group_id', '=', 'a.group_id').on('mb.user_id', '=', userId))
        .leftJoin('mirror_group_messages as m', (join) => join.onRef('m.id', '=', 'a.message_id').onRef('m.group_id', '=', 'a.group_id'))
        .selectAll('a')
        .where('a.group_id', '=', groupBin)
        .where('a.id', '=', attachmentBin)
        .where((eb) => eb.or([
          eb.and([eb('a.message_id', 'is', null), eb('a.uploader_user_id', '=', userId)]),
          eb.and([eb('m.is_deleted', '=', false), eb('m.seq', '>', eb.ref('mb.cleared_seq'))])
        ]))
        .executeTakeFirst()
      return row ?? null
    },

    /** The attachments of these messages, in upload order (UUIDv7 ids). */
    async ofMessages (messageBins: Buffer[]): Promise<AttachmentRow[]> {
      if (messageBins.length === 0) return []
      return await db.selectFrom('mirror_group_chat_attachments').selectAll()
        .where('message_id', 'in', messageBins)
        .orderBy('id')
        .execute()
    },

    /** Unattached uploads made before `before`, oldest first. */
    async unattachedBefore (before: Date, limit: number): Promise<Array<Pick<AttachmentRow, 'id' | 'group_id' | 'storage_key' | 'thumbnail_size'>>> {
      return await db.selectFrom('mirror_group_chat_attachments').select(['id', 'group_id', 'storage_key', 'thumbnail_size'])
        .where('message_id', 'is', null).where('created_at', '<', before)
        .orderBy('created_at').limit(limit)
        .execute()
    },

    /** Deletes an upload if it is still unattached (a send may have claimed it meanwhile); true when deleted. */
    async deleteUnattached (groupBin: Buffer, attachmentBin: Buffer): Promise<boolean> {
      const result = await db.deleteFrom('mirror_group_chat_attachments')
        .where('group_id', '=', groupBin).where('id', '=', attachmentBin).where('message_id', 'is', null)
        .executeTakeFirst()
      return result.numDeletedRows > 0n
    },

    /** Which of these groups still exist. */
    async existingGroups (groupBins: Buffer[]): Promise<Buffer[]> {
      if (groupBins.length === 0) return []
      const rows = await db.selectFrom('mirror_groups').select('id').where('id', 'in', groupBins).execute()
      return rows.map((r) => r.id)
    }
  }
}

export type AttachmentRepository = ReturnType<typeof attachmentRepository>
