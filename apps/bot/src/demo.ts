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
 * the demo bot token and a fresh API key of the demo project (loopback only).
 */
export async function demoBootstrap(url: string): Promise<DemoBootstrap> {
  await waitForServer(url)
  const response = await fetch(new URL('/demo/bootstrap', url), {
    headers: { accept: 'application/json' },
  })
  if (response.status === 404)
    throw new ConfigError(
      `No TELEGRAM_BOT_TOKEN is set and the e-Stars server at ${url} is not in sandbox mode.\n` +
        'Either set TELEGRAM_BOT_TOKEN and ESTARS_API_KEY (real Telegram), or run the server with SANDBOX=on.',
    )
  if (!response.ok)
    throw new ConfigError(`The demo bootstrap at ${url} failed: HTTP ${response.status}`)
  return Bootstrap.parse(await response.json())
}
