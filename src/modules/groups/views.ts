import type { Group, GroupMember } from '../../../schemas/groups.ts'
import { notFound } from '../../lib/app-error.ts'
import { groupBinOf } from '../membership/ids.ts'
import { fromBin } from '../../lib/ids.ts'
import { toUserProfile } from '../users/service.ts'
import type { GroupViewRow, MemberWithUserRow } from './repository.ts'

/*
 * Ids, caps and the shapes the groups area answers with: pure functions of rows.
 */

export { canonicalGroupId, groupBinOf } from '../membership/ids.ts'

export function requireGroupBin (groupId: string): Buffer {
  const bin = groupBinOf(groupId)
  if (bin === null) throw notFound('Group')
  return bin
}

/** "minId:maxId": the unique key of two users' direct chat. */
export const directKeyOf = (a: number, b: number): string => `${Math.min(a, b)}:${Math.max(a, b)}`

function peerOf (directKey: string | null, userId: number): number | null {
  if (directKey === null) return null
  const [a, b] = directKey.split(':').map(Number)
  if (a === undefined || b === undefined) return null
  return a === userId ? b : a
}

/** A group's member cap: its own, never above the server's limit for its type. */
export const capOf = (maxMembers: number | null, limit: number): number => Math.min(maxMembers ?? limit, limit)

export function toGroup (row: GroupViewRow, userId: number, limit: number): Group {
  return {
    id: fromBin(row.id),
    name: row.name,
    description: row.description,
    type: row.type,
    avatarUrl: row.avatar_url,
    createdBy: row.created_by,
    memberCount: Number(row.member_count ?? 0),
    myRole: row.role,
    peerUserId: peerOf(row.direct_key, userId),
    maxMembers: capOf(row.max_members, limit),
    createdAt: row.created_at.toISOString(),
    updatedAt: row.updated_at.toISOString()
  }
}

export function toGroupMember (row: MemberWithUserRow): GroupMember {
  return { userId: row.user_id, role: row.role, joinedAt: row.joined_at.toISOString(), user: toUserProfile(row) }
}
