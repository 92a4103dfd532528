import { z } from 'zod'
import { ConfigError } from './env.ts'

const Bootstrap = z.object({
  projectId: z.string(),
  apiKey: z.string(),
  botToken: z.string(),
  apiRoot: z.string(),
  sandboxUrl: z.string(),
  users: z.array(z.object({ id: z.number(), firstName: z.string() })),
})

export type DemoBootstrap = z.infer<typeof Bootstrap>

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** Waits for the e-Stars server's /healthz (it starts alongside the bot under `pnpm start`). */
export async function waitForServer(url: string, timeoutMs = 120_000): Promise<void> {
  const until = Date.now() + timeoutMs
  for (;;) {
    try {
      const response = await fetch(new URL('/healthz', url), { signal: AbortSignal.timeout(2000) })
      if (response.ok) return
    } catch {
      // not up yet
    }
    if (Date.now() > until)
      throw new ConfigError(
        `The e-Stars server at ${url} did not come up within ${timeoutMs / 1000} s`,
      )
    await sleep(500)
  }
}

/**
 * The demo's zero configuration: a server in sandbox mode hands the bot the sandbox's API root,
 * the demo bot token and the demo project's API key (loopback only), to a bot that presents the
 * demo token of the run that started them both. A server that does not know this token (another
 * e-Stars on the same port) refuses, and the bot stops instead of joining it. Asking again hands
 * out the same key: a second bot or a restart never breaks one that is running.
 */
export async function demoBootstrap(
  url: string,
  demoToken: string | undefined,
): Promise<DemoBootstrap> {
  if (!demoToken)
    throw new ConfigError(
      'No TELEGRAM_BOT_TOKEN and no ESTARS_DEMO_TOKEN is set.\n' +
        'Start the demo with `pnpm start` (it gives the server and the bot the same ESTARS_DEMO_TOKEN), ' +
        'or set TELEGRAM_BOT_TOKEN and ESTARS_API_KEY (real Telegram).',
    )
  await waitForServer(url)
  const response = await fetch(new URL('/demo/bootstrap', url), {
    method: 'POST',
    headers: { accept: 'application/json', authorization: `Bearer ${demoToken}` },
  })
  if (response.status === 404)
    throw new ConfigError(
      `No TELEGRAM_BOT_TOKEN is set and the e-Stars server at ${url} is not in sandbox mode.\n` +
        'Either set TELEGRAM_BOT_TOKEN and ESTARS_API_KEY (real Telegram), or run the server with SANDBOX=on.',
    )
  if (response.status === 403)
    throw new ConfigError(
      `The e-Stars server at ${url} was not started with this bot (it refused the demo token). ` +
        'Is another e-Stars server on that port? Set ESTARS_URL to the server this bot belongs to, ' +
        'or start both together with `pnpm start`.',
    )
  if (!response.ok)
    throw new ConfigError(`The demo bootstrap at ${url} failed: HTTP ${response.status}`)
  return Bootstrap.parse(await response.json())
}
