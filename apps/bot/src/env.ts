import { z } from 'zod'

const optional = <T extends z.ZodType>(schema: T) =>
  schema.optional().or(z.literal('').transform(() => undefined))

const schema = z
  .object({
    /** From @BotFather. Unset: the demo — the bot asks the e-Stars server for the sandbox's. */
    TELEGRAM_BOT_TOKEN: optional(
      z.string().regex(/^\d{1,20}:[A-Za-z0-9_-]{1,200}$/, 'must look like 123456789:AA…'),
    ),
    /** Another Bot API server (a local telegram-bot-api, or a sandbox). Default: Telegram's. */
    TELEGRAM_API_ROOT: optional(z.url({ protocol: /^https?$/ })),
    /** The e-Stars server. */
    ESTARS_URL: z.url({ protocol: /^https?$/ }).default('http://127.0.0.1:3000'),
    /**
     * The demo (no TELEGRAM_BOT_TOKEN): the token the server started with it holds, which
     * `POST /demo/bootstrap` requires. `pnpm start` / `pnpm dev` give both the same fresh one.
     */
    ESTARS_DEMO_TOKEN: optional(z.string().min(16)),
    /** A project API key (`pnpm cli key create …`); required with TELEGRAM_BOT_TOKEN. */
    ESTARS_API_KEY: optional(z.string().min(10)),
    BOT_MODE: z.enum(['polling', 'webhook']).default('polling'),
    /** Webhook mode: the public https URL Telegram posts to, e.g. https://bot.example.com/telegram. */
    WEBHOOK_URL: optional(z.url({ protocol: /^https$/, error: 'must be an https:// URL' })),
    /** Webhook mode: checked on every request (X-Telegram-Bot-Api-Secret-Token). */
    WEBHOOK_SECRET: optional(
      z.string().regex(/^[A-Za-z0-9_-]{16,256}$/, '16–256 of A-Z a-z 0-9 _ -'),
    ),
    /** Webhook mode: where the bot listens (behind your TLS proxy). */
    WEBHOOK_PORT: z.coerce.number().int().min(1).max(65_535).default(8443),
    WEBHOOK_HOST: z.string().min(1).default('0.0.0.0'),
    /** Any OpenAI-compatible chat-completions server; unset: the offline model. */
    OPENAI_BASE_URL: optional(z.url({ protocol: /^https?$/ })),
    OPENAI_API_KEY: optional(z.string().min(1)),
    OPENAI_MODEL: z.string().min(1).default('gpt-4o-mini'),
    /** The cap of one answer in tokens (what is reserved on top of the prompt). */
    MODEL_MAX_TOKENS: z.coerce.number().int().min(16).max(32_000).optional(),
    /** How long one answer may take, a retry after a 429 included (then the hold is released). */
    MODEL_TIMEOUT_MS: z.coerce.number().int().min(1000).max(600_000).default(25_000),
    /** How long to wait for e-Stars before refusing a checkout (Telegram allows 10 s). */
    PRECHECK_TIMEOUT_MS: z.coerce.number().int().min(500).max(8000).default(4000),
    /** How often low-balance and limit events are polled. */
    EVENTS_INTERVAL_MS: z.coerce.number().int().min(200).max(600_000).default(2000),
    LOG_LEVEL: z
      .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
      .default('info'),
  })
  .superRefine((env, ctx) => {
    if (env.TELEGRAM_BOT_TOKEN && !env.ESTARS_API_KEY)
      ctx.addIssue({
        code: 'custom',
        path: ['ESTARS_API_KEY'],
        message:
          'required with TELEGRAM_BOT_TOKEN: create one with `pnpm cli key create --project <id> --name bot`',
      })
    if (env.BOT_MODE === 'webhook') {
      if (!env.WEBHOOK_URL)
        ctx.addIssue({
          code: 'custom',
          path: ['WEBHOOK_URL'],
          message: 'required with BOT_MODE=webhook',
        })
      if (!env.WEBHOOK_SECRET)
        ctx.addIssue({
          code: 'custom',
          path: ['WEBHOOK_SECRET'],
          message: 'required with BOT_MODE=webhook',
        })
    }
  })

export type Env = z.infer<typeof schema>

export class ConfigError extends Error {}

/** Parsed once at start-up; nothing else reads `process.env`. A bad value names itself. */
export function parseEnv(source: Record<string, string | undefined> = process.env): Env {
  const result = schema.safeParse(source)
  if (result.success) return result.data
  const problems = result.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`).join('\n')
  throw new ConfigError(`Invalid configuration:\n${problems}`)
}
