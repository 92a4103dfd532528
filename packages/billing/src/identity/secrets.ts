import {
  createCipheriv,
  createDecipheriv,
  createHmac,
  hkdfSync,
  randomBytes,
  timingSafeEqual,
} from 'node:crypto'

/**
 * Everything derived from the server's `SECRET_KEY`: the key that signs order references (the
 * invoice payload) and the key that encrypts bot tokens at rest. Each purpose gets its own key
 * (HKDF), so one leaking says nothing about the other.
 */
export interface Secrets {
  /** `o1.<orderId base64url>.<mac>`: 48 bytes, well inside Telegram's 128-byte payload limit. */
  signOrderRef(projectId: string, orderId: string): string
  /** The order id a payload refers to, or why it does not refer to one of this project's orders. */
  verifyOrderRef(projectId: string, payload: string): OrderRefCheck
  /** AES-256-GCM, bound to the project (AAD), so a ciphertext copied to another project fails. */
  encryptBotToken(projectId: string, token: string): string
  decryptBotToken(projectId: string, ciphertext: string): string
  /** A webhook endpoint's signing secret, bound to the project and the endpoint (AAD). */
  encryptWebhookSecret(projectId: string, endpointId: string, secret: string): string
  decryptWebhookSecret(projectId: string, endpointId: string, ciphertext: string): string
  /** Whether a previous key is configured (a rotation in progress). */
  readonly rotating: boolean
}

export type OrderRefCheck =
  | { ok: true; orderId: string }
  | { ok: false; reason: 'not_ours' | 'bad_signature' }

const ORDER_REF = /^o1\.([A-Za-z0-9_-]{22})\.([A-Za-z0-9_-]{22})$/
const MIN_SECRET_BYTES = 32

/** Accepts 32+ bytes as hex or base64 (what `openssl rand -base64 32` prints). */
export function parseSecretKey(value: string): Buffer {
  const text = value.trim()
  const bytes = /^(?:[0-9a-fA-F]{2})+$/.test(text)
    ? Buffer.from(text, 'hex')
    : Buffer.from(text, 'base64')
  if (bytes.length < MIN_SECRET_BYTES)
    throw new Error(`must be at least ${MIN_SECRET_BYTES} bytes, as hex or base64`)
  return bytes
}

export const generateSecretKey = () => randomBytes(MIN_SECRET_BYTES).toString('base64')

const derive = (secret: Buffer, purpose: string) =>
  Buffer.from(hkdfSync('sha256', secret, 'e-stars', purpose, 32))

/** The keys one `SECRET_KEY` derives, one per purpose. */
function keysOf(secret: Buffer) {
  return {
    signing: derive(secret, 'order-ref v1'),
    token: derive(secret, 'bot-token v1'),
    webhook: derive(secret, 'webhook-secret v1'),
  }
}

function seal(key: Buffer, aad: string, plaintext: string): string {
  const iv = randomBytes(12)
  const cipher = createCipheriv('aes-256-gcm', key, iv)
  cipher.setAAD(Buffer.from(aad))
  const body = Buffer.concat([
    cipher.update(plaintext, 'utf8'),
    cipher.final(),
    cipher.getAuthTag(),
  ])
  return `v1.${iv.toString('base64url')}.${body.toString('base64url')}`
}

function open(key: Buffer, aad: string, ciphertext: string): string {
  const [version, iv, body] = ciphertext.split('.')
  if (version !== 'v1' || !iv || !body) throw new Error('unknown ciphertext format')
  const bytes = Buffer.from(body, 'base64url')
  const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'))
  decipher.setAAD(Buffer.from(aad))
  decipher.setAuthTag(bytes.subarray(bytes.length - 16))
  return Buffer.concat([
    decipher.update(bytes.subarray(0, bytes.length - 16)),
    decipher.final(),
  ]).toString('utf8')
}

/**
 * Key rotation (`SECRET_KEY_PREVIOUS`): everything is written with the current key and read with
 * either, so order references signed and tokens encrypted before the switch keep working until
 * `pnpm cli secrets rotate` has re-encrypted the stored ones and the previous key is dropped.
 */
export function createSecrets(
  secretKey: Buffer | string,
  previousKey?: Buffer | string | null,
): Secrets {
  const asBytes = (key: Buffer | string) => (typeof key === 'string' ? parseSecretKey(key) : key)
  const current = keysOf(asBytes(secretKey))
  const readable = previousKey ? [current, keysOf(asBytes(previousKey))] : [current]
  const mac = (signingKey: Buffer, projectId: string, id: string) =>
    createHmac('sha256', signingKey).update(`o1.${projectId}.${id}`).digest().subarray(0, 16)
  /** Opens with the current key, then the previous one; the current key's error if both fail. */
  const openWithEither = (pick: (k: typeof current) => Buffer, aad: string, text: string) => {
    let first: unknown = null
    for (const keys of readable) {
      try {
        return open(pick(keys), aad, text)
      } catch (error) {
        first ??= error
      }
    }
    throw first
  }
  const webhookAad = (projectId: string, endpointId: string) => `webhook:${projectId}:${endpointId}`
  return {
    rotating: readable.length > 1,
    signOrderRef(projectId, orderId) {
      const id = Buffer.from(orderId.replaceAll('-', ''), 'hex').toString('base64url')
      return `o1.${id}.${mac(current.signing, projectId, id).toString('base64url')}`
    },
    verifyOrderRef(projectId, payload) {
      const match = ORDER_REF.exec(payload)
      if (!match) return { ok: false, reason: 'not_ours' }
      const [, id, presented] = match as unknown as [string, string, string]
      const given = Buffer.from(presented, 'base64url')
      const matches = readable.some((keys) => {
        const expected = mac(keys.signing, projectId, id)
        return given.length === expected.length && timingSafeEqual(given, expected)
      })
      if (!matches) return { ok: false, reason: 'bad_signature' }
      const hex = Buffer.from(id, 'base64url').toString('hex')
      const orderId = `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`
      return { ok: true, orderId }
    },
    encryptBotToken: (projectId, token) => seal(current.token, projectId, token),
    decryptBotToken: (projectId, ciphertext) =>
      openWithEither((k) => k.token, projectId, ciphertext),
    encryptWebhookSecret: (projectId, endpointId, secret) =>
      seal(current.webhook, webhookAad(projectId, endpointId), secret),
    decryptWebhookSecret: (projectId, endpointId, ciphertext) =>
      openWithEither((k) => k.webhook, webhookAad(projectId, endpointId), ciphertext),
  }
}
