import { randomBytes } from 'node:crypto'
import { Webhook } from 'standardwebhooks'

/**
 * The signature scheme of outgoing webhooks, the Standard Webhooks one (standardwebhooks.com),
 * signed with that project's own library, so a receiver can use its verifier in any language or
 * the few lines in docs/webhooks.md:
 *
 * - `webhook-id`: the event's id (`evt_<n>`), the same on every retry: a receiver dedupes on it;
 * - `webhook-timestamp`: Unix seconds when this attempt was signed;
 * - `webhook-signature`: `v1,<base64 HMAC-SHA256(key, "<id>.<timestamp>.<body>")>`, where the key
 *   is the bytes of the endpoint's secret after its `whsec_` prefix (base64). Several signatures
 *   may be listed, separated by spaces (a secret being rotated).
 */
export const WEBHOOK_SECRET_PREFIX = 'whsec_'

/** Five minutes either way, the Standard Webhooks default: an old capture cannot be replayed. */
export const WEBHOOK_TOLERANCE_SECONDS = 300

export const generateWebhookSecret = () =>
  `${WEBHOOK_SECRET_PREFIX}${randomBytes(24).toString('base64')}`

function webhookOf(secret: string): Webhook {
  if (!secret.startsWith(WEBHOOK_SECRET_PREFIX)) throw new Error('not a whsec_ secret')
  return new Webhook(secret)
}

export function signWebhook(
  secret: string,
  message: { id: string; timestamp: number; body: string },
): string {
  return webhookOf(secret).sign(message.id, new Date(message.timestamp * 1000), message.body)
}

/**
 * A secret being rotated: the old one keeps signing, next to the new one, this long (24 h), so a
 * receiver can switch to the new secret at its own pace; after it, only the new one signs.
 */
export const WEBHOOK_SECRET_OVERLAP_SECONDS = 86_400

/**
 * What an endpoint's `secret_encrypted` holds once decrypted: the secret itself (`whsec_…`), or,
 * after a rotation, JSON with the new secret and the previous one with the end of its overlap.
 */
export interface StoredWebhookSecret {
  current: string
  previous: { secret: string; until: Date } | null
}

export function encodeWebhookSecret(stored: StoredWebhookSecret): string {
  if (!stored.previous) return stored.current
  return JSON.stringify({
    current: stored.current,
    previous: stored.previous.secret,
    previousUntil: stored.previous.until.toISOString(),
  })
}

export function decodeWebhookSecret(plaintext: string): StoredWebhookSecret {
  if (plaintext.startsWith(WEBHOOK_SECRET_PREFIX)) return { current: plaintext, previous: null }
  const parsed = JSON.parse(plaintext) as {
    current: string
    previous: string
    previousUntil: string
  }
  return {
    current: parsed.current,
    previous: { secret: parsed.previous, until: new Date(parsed.previousUntil) },
  }
}

/** The secrets that sign at `now`: the current one, and the previous one during its overlap. */
export function signingSecrets(stored: StoredWebhookSecret, now: Date = new Date()): string[] {
  return stored.previous && stored.previous.until.getTime() > now.getTime()
    ? [stored.current, stored.previous.secret]
    : [stored.current]
}

export interface WebhookHeaders {
  'webhook-id': string
  'webhook-timestamp': string
  'webhook-signature': string
}

/** The headers of one attempt; several secrets (a rotation) give one `v1,` signature each. */
export function webhookHeaders(
  secret: string | readonly string[],
  message: { id: string; timestamp: number; body: string },
): WebhookHeaders {
  const secrets = typeof secret === 'string' ? [secret] : secret
  return {
    'webhook-id': message.id,
    'webhook-timestamp': String(message.timestamp),
    'webhook-signature': secrets.map((s) => signWebhook(s, message)).join(' '),
  }
}

/**
 * The receiver's check (tests use it; the client packages carry the same few lines): a signature
 * made with `secret` over exactly this body, signed within the tolerance of `now`.
 */
export function verifyWebhook(
  secret: string,
  headers: Record<string, string | string[] | undefined>,
  body: string,
  options: { now?: Date; toleranceSeconds?: number } = {},
): boolean {
  const one = (name: string) => {
    const value = headers[name]
    return Array.isArray(value) ? value[0] : value
  }
  const id = one('webhook-id')
  const timestamp = one('webhook-timestamp')
  const signatures = one('webhook-signature')
  if (!id || !timestamp || !signatures || !/^\d{1,12}$/.test(timestamp)) return false
  const now = Math.floor((options.now ?? new Date()).getTime() / 1000)
  if (Math.abs(now - Number(timestamp)) > (options.toleranceSeconds ?? WEBHOOK_TOLERANCE_SECONDS))
    return false
  try {
    // The library checks the signatures (constant time) and its own ±5 min window on the clock.
    webhookOf(secret).verify(body, {
      'webhook-id': id,
      'webhook-timestamp': timestamp,
      'webhook-signature': signatures,
    })
    return true
  } catch {
    return false
  }
}
