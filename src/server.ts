import closeWithGrace from 'close-with-grace'
import { ConfigError, loadConfig, type Config } from './config.ts'
import { assertSqlModePinned, prepareDatabase } from '../db/connection.ts'
import { buildApp } from './app.ts'
import { prettyLogStream, startLine, startUrls } from './lib/startup.ts'

/** How long in-flight requests and commands get to finish on SIGTERM. */
const SHUTDOWN_GRACE_MS = 10_000

async function main (): Promise<void> {
  let config: Config
  try {
    config = loadConfig()
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`)
      process.exit(1)
    }
    throw err
  }

  await prepareDatabase(config.databaseUrl)
  const logStream = await prettyLogStream(config, process.stdout)
  const app = await buildApp(config, logStream === undefined ? {} : { logStream })
  // No request is served on connections whose sql_mode could not be pinned (db/connection.ts).
  try {
    await assertSqlModePinned(app.db, app.sendBatcher.pool)
  } catch (err) {
    await app.close()
    throw err
  }

  closeWithGrace({ delay: SHUTDOWN_GRACE_MS }, async ({ signal, err }) => {
    if (err !== undefined) app.log.error({ err }, 'closing after an error')
    else app.log.info({ signal }, 'shutting down')
    app.markDraining()
    await app.close()
  })

  await app.listen({ port: config.port, host: config.host })
  const urls = startUrls(config, app.server.address())
  app.log.info(urls, startLine(urls))
}

await main()
