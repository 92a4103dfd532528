// The server process of outage.test.ts: the real server on the test's own PostgreSQL cluster,
// with the last-resort handler a production entry point installs. It tells the parent its URL
// a fresh API key and the relay's webhook secret over IPC (never on stdout), logs warnings and errors as JSON lines on
// stdout, and stops on SIGTERM.
import { createApiKey, listProjects, setRelaySettings } from '@e-stars/billing'
import pino from 'pino'
import { parseEnv } from '../src/env.ts'
import { installLastResort } from '../src/last-resort.ts'
import { startServer } from '../src/server.ts'

const logger = pino({ level: 'warn' })
installLastResort(logger)
const server = await startServer(
  parseEnv({
    DATABASE_URL: process.env.DATABASE_URL,
    SECRET_KEY: process.env.SECRET_KEY,
    PORT: '0',
    RECONCILE_INTERVAL_SECONDS: '0',
    SANDBOX: 'off',
    DB_POOL_SIZE: process.env.DB_POOL_SIZE ?? '10',
  }),
  logger,
)
const [project] = await listProjects(server.database.db)
if (!project) throw new Error('no demo project on the first start')
const { key } = await createApiKey(server.database.db, { projectId: project.id, name: 'outage' })
const { webhookSecret } = await setRelaySettings(server.database.db, {
  projectId: project.id,
  relayTarget: null,
})
process.send?.({ url: server.url, apiKey: key, projectId: project.id, webhookSecret })
process.once('SIGTERM', () => {
  server.close().then(
    () => process.exit(0),
    () => process.exit(1),
  )
})
