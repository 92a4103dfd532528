/**
 * For a backend that receives e-Stars webhooks: checks the Standard Webhooks signature
 * (docs/webhooks.md) and returns the event. Pass the body exactly as received, before any JSON
 * parsing: the signature covers its bytes.
 *
 * ```ts
 * app.post('/e-stars', express.text({ type: '*\/*' }), async (req, res) => {
 *   const event = await verifyWebhook(process.env.ESTARS_WEBHOOK_SECRET!, req.headers, req.body)
 *   // dedupe on event.id: a retry carries the same one
 *   res.sendStatus(204)
 * })
 * ```
 */
export interface WebhookEvent<Data = Record<string, unknown>> {
  /** `evt_<n>`, the same as the `webhook-id` header and on every retry. */
  id: string
  type: string
  /** When the event happened (ISO 8601). */
  timestamp: string
  data: Data
}

export class WebhookSignatureError extends Error {
  override readonly name = 'WebhookSignatureError'
}

const TOLERANCE_SECONDS = 300

type Headers = Record<string, string | string[] | undefined> | { get(name: string): string | null }

function header(headers: Headers, name: string): string | undefined {
  if (typeof (headers as { get?: unknown }).get === 'function')
    return (headers as { get(name: string): string | null }).get(name) ?? undefined
  const value = (headers as Record<string, string | string[] | undefined>)[name]
  return Array.isArray(value) ? value[0] : value
}

const utf8 = new TextEncoder()

function fromBase64(text: string): Uint8Array | null {
  try {
    return Uint8Array.from(atob(text), (c) => c.charCodeAt(0))
  } catch {
    return null
  }
}

/**
 * Rejects with `WebhookSignatureError` unless one of the `webhook-signature` entries is the
 * HMAC-SHA256 of `<webhook-id>.<webhook-timestamp>.<body>` under the secret (a `whsec_` value;
 * during a secret rotation pass both, newest first) and the timestamp is within five minutes of
 * now. Web Crypto only, so it runs on Node, Bun, Deno and edge runtimes alike.
 */
export async function verifyWebhook<Data = Record<string, unknown>>(
  secret: string | readonly string[],
  headers: Headers,
  body: string | Uint8Array,
  options: { now?: Date; toleranceSeconds?: number } = {},
): Promise<WebhookEvent<Data>> {
  const id = header(headers, 'webhook-id')
  const timestamp = header(headers, 'webhook-timestamp')
  const signatures = header(headers, 'webhook-signature')
  if (!id || !timestamp || !signatures)
    throw new WebhookSignatureError('missing webhook-id, webhook-timestamp or webhook-signature')
  if (!/^\d{1,12}$/.test(timestamp)) throw new WebhookSignatureError('bad webhook-timestamp')
  const now = Math.floor((options.now ?? new Date()).getTime() / 1000)
  if (Math.abs(now - Number(timestamp)) > (options.toleranceSeconds ?? TOLERANCE_SECONDS))
    throw new WebhookSignatureError('webhook-timestamp too far from now')
  const bytes = typeof body === 'string' ? utf8.encode(body) : body
  const prefix = utf8.encode(`${id}.${timestamp}.`)
  const signed = new Uint8Array(prefix.length + bytes.length)
  signed.set(prefix)
  signed.set(bytes, prefix.length)
  const presented = signatures
    .split(' ')
    .map((entry) => entry.split(','))
    .filter(([version, mac]) => version === 'v1' && mac)
    .map(([, mac]) => fromBase64(mac as string))
    .filter((mac): mac is Uint8Array => mac !== null && mac.length === 32)
  for (const candidate of typeof secret === 'string' ? [secret] : secret) {
    const raw = candidate.startsWith('whsec_') ? fromBase64(candidate.slice(6)) : null
    if (!raw?.length) throw new WebhookSignatureError('not a whsec_ secret')
    const key = await crypto.subtle.importKey(
      'raw',
      raw,
      { name: 'HMAC', hash: 'SHA-256' },
      false,
      ['verify'],
    )
    // subtle.verify compares in constant time.
    for (const mac of presented)
      if (await crypto.subtle.verify('HMAC', key, mac, signed))
        return JSON.parse(new TextDecoder().decode(bytes)) as WebhookEvent<Data>
  }
  throw new WebhookSignatureError('no signature matches')
}
