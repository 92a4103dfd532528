import { createEStarsClient } from '@e-stars/api/client'
import pino from 'pino'
import { applyCatalog } from './apply-catalog.ts'
import { createBot } from './bot.ts'
import { demoBootstrap } from './demo.ts'
import { ConfigError, parseEnv } from './env.ts'
import { createOfflineModel } from './model/offline.ts'
import { createOpenAiModel } from './model/openai.ts'
import { startNudges } from './nudges.ts'

/** Named explicitly: Telegram's default may leave out the Bot API 10.2/10.3 Stars updates (Telegraf's types stop at 7.1). */
const ALLOWED_UPDATES = [
  'message',
  'callback_query',
  'pre_checkout_query',
  'subscription',
  'purchased_paid_media',
] as never[]

async function main() {
  const env = parseEnv()
  const logger = pino({ level: env.LOG_LEVEL })
  const demo = env.TELEGRAM_BOT_TOKEN
    ? null
    : await demoBootstrap(env.ESTARS_URL, env.ESTARS_DEMO_TOKEN)
  const token = env.TELEGRAM_BOT_TOKEN ?? demo?.botToken ?? ''
  const apiKey = env.ESTARS_API_KEY ?? demo?.apiKey ?? ''
  const apiRoot = demo?.apiRoot ?? env.TELEGRAM_API_ROOT
  const client = createEStarsClient({ url: env.ESTARS_URL, apiKey })
  const model = env.OPENAI_BASE_URL
    ? createOpenAiModel({
        baseUrl: env.OPENAI_BASE_URL,
        apiKey: env.OPENAI_API_KEY,
        model: env.OPENAI_MODEL,
        timeoutMs: env.MODEL_TIMEOUT_MS,
        ...(env.MODEL_MAX_TOKENS ? { maxTokens: env.MODEL_MAX_TOKENS } : {}),
      })
    : createOfflineModel(env.MODEL_MAX_TOKENS ? { maxTokens: env.MODEL_MAX_TOKENS } : {})
  await client.project.whoami.query().catch((error: unknown) => {
    throw new ConfigError(
      `e-Stars at ${env.ESTARS_URL} refused the API key (${(error as Error).message}); check ESTARS_API_KEY`,
    )
  })

  await applyCatalog(client, logger)

  const reference = createBot({
    token,
    apiRoot,
    client,
    model,
    logger,
    precheckTimeoutMs: env.PRECHECK_TIMEOUT_MS,
  })
  const { bot } = reference
  const nudges = startNudges(reference, { client, logger, intervalMs: env.EVENTS_INTERVAL_MS })

  await new Promise<void>((resolve, reject) => {
    const launched =
      env.BOT_MODE === 'webhook' && env.WEBHOOK_URL
        ? bot.launch(
            {
              webhook: {
                domain: new URL(env.WEBHOOK_URL).origin,
                path: new URL(env.WEBHOOK_URL).pathname,
                port: env.WEBHOOK_PORT,
                host: env.WEBHOOK_HOST,
                ...(env.WEBHOOK_SECRET ? { secretToken: env.WEBHOOK_SECRET } : {}),
              },
              allowedUpdates: ALLOWED_UPDATES,
            },
            resolve,
          )
        : bot.launch({ allowedUpdates: ALLOWED_UPDATES }, resolve)
    launched.catch(reject)
  })
  const me = bot.botInfo
  logger.info(
    { bot: me?.username, mode: env.BOT_MODE, model: model.name, sandbox: Boolean(demo) },
    'reference bot running',
  )
  if (demo) {
    const user = demo.users[0]
    process.stdout.write(
      `\nReference bot @${me?.username} is running against the sandbox (${demo.apiRoot}), model: ${model.name}.\n` +
        `Say /start as ${user?.firstName} in the console's Sandbox page, or with the curl lines the server printed\n` +
        `(the sandbox's control API takes its per-run token: ${demo.sandboxUrl}/sandbox/…).\n\n`,
    )
  }

  let stopping = false
  const shutdown = async (signal: string) => {
    if (stopping) return
    stopping = true
    logger.info({ signal }, 'stopping the bot')
    // Stop taking updates first; the answers in the chat queues finish; then the event poller.
    bot.stop(signal)
    await reference.queue.idle()
    await nudges.stop()
    process.exit(0)
  }
  process.once('SIGINT', () => void shutdown('SIGINT'))
  process.once('SIGTERM', () => void shutdown('SIGTERM'))
}

main().catch((error: unknown) => {
  if (error instanceof ConfigError) console.error(error.message)
  else console.error(error)
  process.exit(1)
})
