/*
 * The MariaDB/MySQL errors the services act on, read from mysql2's error codes: one home, so
 * every area recognises them the same way.
 */

interface SqlError { code?: unknown, sqlMessage?: unknown, message?: unknown }

const codeOf = (err: unknown): unknown => (typeof err === 'object' && err !== null ? (err as SqlError).code : undefined)

/** A unique key was hit: which one (MariaDB names it `email`, MySQL 8 `users.email`), else null. */
export function duplicateKeyOf (err: unknown): string | null {
  if (codeOf(err) !== 'ER_DUP_ENTRY') return null
  const e = err as SqlError
  const text = typeof e.sqlMessage === 'string' ? e.sqlMessage : String(e.message)
  return /for key '([^']+)'/.exec(text)?.[1] ?? ''
}

/** InnoDB chose this transaction as a deadlock victim; it was rolled back and may be retried. */
export function isDeadlock (err: unknown): boolean {
  return codeOf(err) === 'ER_LOCK_DEADLOCK'
}

/** Two writers raced for one unique row (a duplicate key, or a deadlock over it): read again. */
export function isRaceLoss (err: unknown): boolean {
  return duplicateKeyOf(err) !== null || isDeadlock(err)
}
