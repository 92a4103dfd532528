import { describe, expect, it } from 'vitest'
// The server's own signer, from its module (the billing index pulls in the whole engine).
import { generateWebhookSecret, webhookHeaders } from '../../billing/src/webhooks/signing.ts'
import { verifyWebhook, WebhookSignatureError } from '../src/index.ts'
import { pythonVerify } from './python-verify.ts'

/** What the server sends: its own signer (billing's), over a body like the dispatcher's. */
function delivery(secret: string, at = Math.floor(Date.now() / 1000)) {
  const body = JSON.stringify({
    id: 'evt_42',
    type: 'payment.succeeded',
    timestamp: new Date().toISOString(),
    data: { stars: 50, note: 'ünïcode ⭐' },
  })
  // Spread: an HTTP server's headers are a plain record.
  return { body, headers: { ...webhookHeaders(secret, { id: 'evt_42', timestamp: at, body }) } }
}

describe('verifyWebhook (TypeScript and Python) against the server’s signature', () => {
  it('accepts what the server signs and refuses a tampered body, another secret, an old capture', async () => {
    const secret = generateWebhookSecret()
    const { body, headers } = delivery(secret)
    expect(await verifyWebhook(secret, headers, body)).toMatchObject({
      id: 'evt_42',
      type: 'payment.succeeded',
      data: { stars: 50 },
    })
    expect((await verifyWebhook(secret, new Headers({ ...headers }), Buffer.from(body))).id).toBe(
      'evt_42',
    )
    await expect(verifyWebhook(secret, headers, body.replace('50', '500'))).rejects.toThrow(
      WebhookSignatureError,
    )
    await expect(verifyWebhook(generateWebhookSecret(), headers, body)).rejects.toThrow(
      'no signature matches',
    )
    // During a rotation both secrets are tried.
    expect((await verifyWebhook([generateWebhookSecret(), secret], headers, body)).type).toBe(
      'payment.succeeded',
    )
    const old = delivery(secret, Math.floor(Date.now() / 1000) - 3600)
    await expect(verifyWebhook(secret, old.headers, old.body)).rejects.toThrow('too far from now')
    await expect(
      verifyWebhook(secret, { 'webhook-id': 'evt_42', 'webhook-timestamp': '1' }, body),
    ).rejects.toThrow('missing')
    // A signature that is not base64, or a secret that is not whsec_, is refused, not a crash.
    await expect(
      verifyWebhook(secret, { ...headers, 'webhook-signature': 'v1,%%%' }, body),
    ).rejects.toThrow('no signature matches')
    await expect(verifyWebhook('not-a-secret', headers, body)).rejects.toThrow('not a whsec_')
  })

  it('the Python client verifies the same way', () => {
    const secret = generateWebhookSecret()
    const { body, headers } = delivery(secret)
    const plain = { ...headers }
    expect(pythonVerify(secret, plain, body)).toBe('payment.succeeded')
    expect(pythonVerify(secret, plain, body.replace('50', '500'))).toBe(
      'refused: no signature matches',
    )
    expect(pythonVerify(generateWebhookSecret(), plain, body)).toBe('refused: no signature matches')
    const old = delivery(secret, Math.floor(Date.now() / 1000) - 3600)
    expect(pythonVerify(secret, { ...old.headers }, old.body)).toBe(
      'refused: webhook-timestamp too far from now',
    )
  })
})
