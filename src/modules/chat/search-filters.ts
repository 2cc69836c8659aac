import type { CrossGroupSearchRequest, SearchMessagesRequest } from '../../../schemas/chat.ts'
import { invalid } from '../../lib/app-error.ts'
import { toBin } from '../../lib/ids.ts'
import type { SearchFilters } from './repository.ts'

/*
 * The search filters of issue 11 point 8, one reading for the group search and the cross-group
 * search. Inputs are checked here too: the service is also called without the route's schema.
 */

function dateOf (value: unknown, field: string): Date | undefined {
  if (value === undefined) return undefined
  const date = typeof value === 'string' ? new Date(value) : null
  if (date === null || Number.isNaN(date.getTime())) throw invalid(field, `${field} must be an ISO 8601 date-time`)
  return date
}

/** The filters a search request names (threadRootId only where a group is searched). */
export function searchFiltersOf (query: Partial<SearchMessagesRequest> | Partial<CrossGroupSearchRequest>): SearchFilters {
  const filters: SearchFilters = {}
  if (query.senderId !== undefined) {
    if (!Number.isInteger(query.senderId) || query.senderId < 1) throw invalid('senderId', 'senderId must be a user id')
    filters.senderId = query.senderId
  }
  const from = dateOf(query.from, 'from')
  const to = dateOf(query.to, 'to')
  if (from !== undefined) filters.from = from
  if (to !== undefined) filters.to = to
  if (query.contentType !== undefined) filters.contentType = query.contentType
  if (query.hasAttachments !== undefined) filters.hasAttachments = query.hasAttachments
  if ('threadRootId' in query && query.threadRootId !== undefined) {
    try {
      filters.threadRootBin = toBin(query.threadRootId)
    } catch {
      throw invalid('threadRootId', 'threadRootId must be a UUID')
    }
  }
  return filters
}
