import { writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/*
 * Preloaded into benchmarked servers (`--expose-gc --import`): SIGWINCH runs a full garbage
 * collection, so a bench can read resident memory without the garbage of what came before
 * (SIGWINCH: ignored by default and by close-with-grace, which takes SIGUSR2), and writes the
 * process's memory breakdown to memoryReportPath(pid) for the bench to read.
 */
process.on('SIGWINCH', () => {
  const gc = (globalThis as { gc?: () => void }).gc
  gc?.()
  gc?.()
  writeFileSync(join(tmpdir(), `bench-memory-${process.pid}.json`), JSON.stringify(process.memoryUsage()))
})
