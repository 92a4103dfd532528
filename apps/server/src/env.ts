import { z } from 'zod'

const schema = z.object({
  PORT: z.coerce.number().int().min(0).max(65_535).default(3000),
  HOST: z.string().min(1).default('127.0.0.1'),
  DATABASE_URL: z
    .url({ protocol: /^postgres(ql)?$/, error: 'must be a postgres:// URL' })
    .optional()
    .or(z.literal('').transform(() => undefined)),
  DATA_DIR: z.string().min(1).default('./.data'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  EXPIRY_INTERVAL_SECONDS: z.coerce.number().int().min(1).max(3600).default(15),
  DB_POOL_SIZE: z.coerce.number().int().min(1).max(500).default(20),
})

export type Env = z.infer<typeof schema>

export class ConfigError extends Error {}

/** Parsed once at start-up; nothing else reads `process.env`. */
export function parseEnv(source: Record<string, string | undefined> = process.env): Env {
  const result = schema.safeParse(source)
  if (result.success) return result.data
  const problems = result.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`).join('\n')
  throw new ConfigError(`Invalid configuration:\n${problems}`)
}
