import pino from 'pino'
import { DEMO_USERS, sandboxWanted, startDemoSandbox } from './demo.ts'
import { ConfigError, parseEnv } from './env.ts'
import { startServer } from './server.ts'

async function main() {
  const env = parseEnv()
  const logger = pino({ level: env.LOG_LEVEL })
  const demo = sandboxWanted(env) ? await startDemoSandbox(env, logger) : null
  const server = await startServer(demo?.env ?? env, logger, demo ? { extend: demo.mount } : {})
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
    process.stdout.write(
      `\nDemo mode: a Telegram sandbox runs at ${demo.sandbox.url} (no real Telegram, no real Stars);\n` +
        `the reference bot (apps/bot) connects to it by itself. Talk to the bot as ${alice?.firstName} (${alice?.id}):\n` +
        (server.consoleServed ? `  in the console: ${server.url}/sandbox\n` : '') +
        `  or with curl:\n` +
        `    curl -s ${control}/messages -H 'content-type: application/json' -d '{"userId":${alice?.id},"text":"/start"}'\n` +
        `    curl -s '${control}/transcript?userId=${alice?.id}'\n` +
        `  (README: "Fork the reference bot" shows paying an invoice the same way)\n\n`,
    )
    if (server.miniAppServed)
      process.stdout.write(
        `The reference Mini App inside the sandbox Telegram: ${server.url}/miniapp/open\n` +
          `  (as Bob in dark: ${server.url}/miniapp/open?user=${DEMO_USERS[1]?.id}&theme=dark)\n\n`,
      )
  }
  const shutdown = (signal: string) => {
    logger.info({ signal }, 'shutting down')
    server
      .close()
      .then(() => demo?.close())
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

main().catch((error: unknown) => {
  if (error instanceof ConfigError) console.error(error.message)
  else console.error(error)
  process.exit(1)
})
