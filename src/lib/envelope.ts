/** The success envelope of seed 01 §4.1. */
export function ok<T> (data: T): { success: true, data: T, timestamp: string } {
  return { success: true, data, timestamp: new Date().toISOString() }
}
