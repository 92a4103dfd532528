import { createSecrets, listProjects } from '@e-stars/billing'
import { DEMO_USERS, type DemoSandbox, sandboxWanted, startDemoSandbox } from './demo.ts'
import { ConfigError, parseEnv } from './env.ts'
import {
  assertDataDirUsable,
  demoDataWanted,
  type FirstStart,
  openFirstStart,
  restrictNewFiles,
  tightenDataDir,
} from './first-start.ts'
import { installLastResort } from './last-resort.ts'
import { createLogger, describeError } from './logger.ts'
import { loadSecretKey } from './secret-key.ts'
import { assertPortFree, listenProblem, type RunningServer, startServer } from './server.ts'

/** Work to undo when start-up fails half-way (the process exits right after). */
const undo: (() => Promise<unknown>)[] = []

async function main() {
  // Before anything writes a file: the database, the secret key and the control file stay private.
  restrictNewFiles()
  const env = parseEnv()
  const logger = createLogger({ level: env.LOG_LEVEL })
  installLastResort(logger)
  const withSandbox = sandboxWanted(env)
  // What can refuse to start is checked before anything starts (the sandbox, the database).
  await assertPortFree('PORT', env.HOST, env.PORT)
  if (withSandbox) await assertPortFree('SANDBOX_PORT', env.HOST, env.SANDBOX_PORT)
  if (!env.DATABASE_URL) assertDataDirUsable(env.DATA_DIR)
  const secrets = createSecrets(loadSecretKey(env, logger))
  let demo: DemoSandbox | null = null
  if (withSandbox) {
    // Before the first start's seed: the demo history's charges are the sandbox's own.
    demo = await startDemoSandbox(env, logger).catch((error: unknown) => {
      throw listenProblem(error, 'SANDBOX_PORT', env.HOST, env.SANDBOX_PORT) ?? error
    })
    undo.push(() => demo!.close())
  }
  const firstStart: FirstStart = await openFirstStart(demo?.env ?? env, {
    secrets,
    demoData: demoDataWanted(env, false),
  })
  undo.push(() => firstStart.database.close())
  const server: RunningServer = await startServer(demo?.env ?? env, logger, {
    firstStart,
    ...(demo ? { extend: demo.mount } : {}),
  })
  undo.length = 0
  if (server.demoProjectId) {
    process.stdout.write(
      `\nFirst start: created the project "Demo bot" (${server.demoProjectId}).\n` +
        `Create an API key for it (shown once):\n\n` +
        `  pnpm cli key create --project ${server.demoProjectId} --name my-bot\n\n`,
    )
  }
  if (server.demoOperator) {
    process.stdout.write(
      `Console login (shown once): ${server.demoOperator.email}  password: ${server.demoOperator.password}\n` +
        `More operators: pnpm cli operator create <email> --project ${server.demoProjectId}\n\n`,
    )
  }
  if (server.consoleServed) process.stdout.write(`Operator console: ${server.url}/\n`)
  process.stdout.write(
    `e-Stars is up: ${server.url}  (health: ${server.url}/healthz, API: ${server.url}/trpc)\n`,
  )
  if (demo) {
    const [alice] = DEMO_USERS
    const control = `${demo.sandbox.url}/sandbox`
    // The sandbox's control token is printed once, like the console login: curl needs it.
    const auth = `-H 'authorization: Bearer ${demo.sandbox.controlToken}'`
    process.stdout.write(
      `\nDemo mode: a Telegram sandbox runs at ${demo.sandbox.url} (no real Telegram, no real Stars);\n` +
        `the reference bot (apps/bot) connects to it by itself. Talk to the bot as ${alice?.firstName} (${alice?.id}):\n` +
        (server.consoleServed ? `  in the console: ${server.url}/sandbox\n` : '') +
        `  or with curl (the sandbox's control token for this run is in the header):\n` +
        `    curl -s ${control}/messages ${auth} -H 'content-type: application/json' -d '{"userId":${alice?.id},"text":"/start"}'\n` +
        `    curl -s '${control}/transcript?userId=${alice?.id}' ${auth}\n` +
        `  (README: "Fork the reference bot" shows paying an invoice the same way)\n\n`,
    )
    if (server.miniAppServed) {
      // The link names the project: /miniapp/open tells nobody which projects exist.
      const project = server.demoProjectId ?? (await listProjects(server.database.db))[0]?.id
      const open = `${server.url}/miniapp/open?project=${project ?? ''}`
      process.stdout.write(
        `The reference Mini App inside the sandbox Telegram: ${open}\n` +
          `  (as Bob in dark: ${open}&user=${DEMO_USERS[1]?.id}&theme=dark)\n\n`,
      )
    }
  }
  const shutdown = (signal: string) => {
    logger.info({ signal }, 'shutting down')
    // A drain that overruns its own bounds (a stuck job, a hung database close) still ends.
    const bound = env.DRAIN_DELAY_MS + env.DRAIN_TIMEOUT_MS + 15_000
    setTimeout(() => {
      logger.error({ signal, boundMs: bound }, 'shutdown overran its bound; exiting')
      process.exit(1)
    }, bound).unref()
    server
      .close()
      .then(() => demo?.close())
      // What PGlite created while running (0666) is closed to others before the process ends.
      .then(() => (env.DATABASE_URL ? undefined : tightenDataDir(env.DATA_DIR)))
      .then(
        () => process.exit(0),
        (error: unknown) => {
          logger.error({ err: error }, 'shutdown failed')
          process.exit(1)
        },
      )
  }
  process.once('SIGINT', () => shutdown('SIGINT'))
  process.once('SIGTERM', () => shutdown('SIGTERM'))
}

main().catch(async (error: unknown) => {
  // One line for whoever started the process; never a stack, SQL or query parameters.
  console.error(
    error instanceof ConfigError
      ? error.message.replace(/\s*\n\s*/g, ' ')
      : `e-Stars could not start: ${describeError(error)}`,
  )
  const timeout = new Promise((resolve) => setTimeout(resolve, 3000).unref())
  await Promise.race([Promise.allSettled(undo.reverse().map((step) => step())), timeout])
  process.exit(1)
})
