import { randomBytes } from 'node:crypto'
import { isIP } from 'node:net'
import { type Executor, projects } from '@e-stars/db'
import { eq, isNotNull } from 'drizzle-orm'
import { BotTokenMissing, InvalidInput, NotFound } from '../errors.ts'
import type { Secrets } from './secrets.ts'

const BOT_TOKEN = /^\d{1,20}:[A-Za-z0-9_-]{1,200}$/
/** Telegram's rule for `secret_token`: 1–256 of A-Z a-z 0-9 _ -. */
const WEBHOOK_SECRET = /^[A-Za-z0-9_-]{16,256}$/

/** Stores the bot token encrypted. The token is never returned by any function or API. */
export async function setBotToken(
  db: Executor,
  input: { projectId: string; botToken: string | null; secrets: Secrets },
) {
  if (input.botToken !== null && !BOT_TOKEN.test(input.botToken))
    throw new InvalidInput('botToken', 'must look like 123456789:AA… (from @BotFather)')
  const [row] = await db
    .update(projects)
    .set({
      botTokenEncrypted:
        input.botToken === null
          ? null
          : input.secrets.encryptBotToken(input.projectId, input.botToken),
    })
    .where(eq(projects.id, input.projectId))
    .returning({ id: projects.id })
  if (!row) throw new NotFound('Project', input.projectId)
  return getTelegramSettings(db, input.projectId)
}

/**
 * Why a target URL may not be stored, or null. The server passes its outbound guard's rule (one
 * address rule for storing and for sending, with `ALLOW_PRIVATE_TARGETS`): the engine has no
 * network code and reads no settings.
 */
export type TargetRule = (url: URL) => string | null

/** Without the server's rule, no literal address is trusted: a target must name a host. */
const NO_LITERAL_ADDRESSES: TargetRule = (url) =>
  isIP(url.hostname.replace(/^\[(.*)\]$/, '$1')) ? 'must name a host, not an IP address' : null

/** A relay target: an http(s) URL the rule accepts (names are judged again when it is used). */
function checkRelayTarget(target: string, rule: TargetRule) {
  let url: URL
  try {
    url = new URL(target)
  } catch {
    throw new InvalidInput('relayTarget', 'must be an http(s) URL')
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:')
    throw new InvalidInput('relayTarget', 'must be an http(s) URL')
  const refusal = rule(url)
  if (refusal) throw new InvalidInput('relayTarget', refusal)
}

/**
 * Where the webhook relay forwards updates (the bot's own webhook URL; null: store only) and the
 * secret Telegram must send in `X-Telegram-Bot-Api-Secret-Token`. A new secret is generated when
 * none is given; it is returned so the operator (or `setWebhook`) can use it.
 */
export async function setRelaySettings(
  db: Executor,
  input: {
    projectId: string
    relayTarget: string | null
    webhookSecret?: string | undefined
    targetRule?: TargetRule | undefined
  },
) {
  if (input.relayTarget !== null)
    checkRelayTarget(input.relayTarget, input.targetRule ?? NO_LITERAL_ADDRESSES)
  if (input.webhookSecret !== undefined && !WEBHOOK_SECRET.test(input.webhookSecret))
    throw new InvalidInput('webhookSecret', 'must be 16–256 of A-Z a-z 0-9 _ -')
  const webhookSecret = input.webhookSecret ?? randomBytes(32).toString('base64url')
  const [row] = await db
    .update(projects)
    .set({ relayTarget: input.relayTarget, webhookSecret })
    .where(eq(projects.id, input.projectId))
    .returning({ id: projects.id })
  if (!row) throw new NotFound('Project', input.projectId)
  return { ...(await getTelegramSettings(db, input.projectId)), webhookSecret }
}

/** What the console may show: whether a token is set and the bot id part of it, never the token. */
export async function getTelegramSettings(db: Executor, projectId: string) {
  const [row] = await db
    .select({
      botTokenEncrypted: projects.botTokenEncrypted,
      relayTarget: projects.relayTarget,
      webhookSecret: projects.webhookSecret,
    })
    .from(projects)
    .where(eq(projects.id, projectId))
  if (!row) throw new NotFound('Project', projectId)
  return {
    botTokenSet: row.botTokenEncrypted !== null,
    relayTarget: row.relayTarget,
    webhookSecretSet: row.webhookSecret !== null,
    relayPath: `/telegram/${projectId}`,
  }
}

/** The decrypted bot token, for building a Bot API client; throws BotTokenMissing. */
export async function projectBotToken(
  db: Executor,
  secrets: Secrets,
  projectId: string,
): Promise<string> {
  const [row] = await db
    .select({ botTokenEncrypted: projects.botTokenEncrypted })
    .from(projects)
    .where(eq(projects.id, projectId))
  if (!row) throw new NotFound('Project', projectId)
  if (!row.botTokenEncrypted) throw new BotTokenMissing(projectId)
  return secrets.decryptBotToken(projectId, row.botTokenEncrypted)
}

/** Everything the webhook relay needs about a project, in one read. */
export async function relayProject(db: Executor, projectId: string) {
  const [row] = await db
    .select({
      id: projects.id,
      webhookSecret: projects.webhookSecret,
      relayTarget: projects.relayTarget,
      botTokenEncrypted: projects.botTokenEncrypted,
    })
    .from(projects)
    .where(eq(projects.id, projectId))
  return row ?? null
}

/** Projects e-Stars can call Telegram for (a bot token is set): what the reconcile job visits. */
export async function projectsWithBotToken(db: Executor): Promise<string[]> {
  const list = await db
    .select({ id: projects.id })
    .from(projects)
    .where(isNotNull(projects.botTokenEncrypted))
  return list.map((p) => p.id)
}
