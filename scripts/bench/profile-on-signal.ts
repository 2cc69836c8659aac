import { Session } from 'node:inspector/promises'
import { writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/*
 * Preloaded into a benchmarked server when a bench profiles it (lib.ts, profileDuring): SIGURG
 * starts a CPU profile of the main thread and the next SIGURG writes it to
 * tmpdir/bench-profile-<pid>.cpuprofile, so the profile covers one measured window only and not
 * the setup (`--cpu-prof` covers the whole life of the process). SIGURG: ignored by default, and
 * nothing here sends out-of-band TCP data; SIGUSR1 belongs to the debugger, SIGUSR2 to
 * close-with-grace, SIGWINCH to gc-on-signal.ts.
 */
const session = new Session()
session.connect()
let profiling = false
process.on('SIGURG', () => {
  void toggle()
})

async function toggle (): Promise<void> {
  if (!profiling) {
    profiling = true
    await session.post('Profiler.enable')
    await session.post('Profiler.start')
    return
  }
  profiling = false
  const { profile } = await session.post('Profiler.stop')
  writeFileSync(join(tmpdir(), `bench-profile-${process.pid}.cpuprofile`), JSON.stringify(profile))
}
