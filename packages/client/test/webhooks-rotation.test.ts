import { describe, expect, it } from 'vitest'
// The server's own signer, from its module (the billing index pulls in the whole engine).
import {
  decodeWebhookSecret,
  encodeWebhookSecret,
  generateWebhookSecret,
  signingSecrets,
  webhookHeaders,
} from '../../billing/src/webhooks/signing.ts'
import { verifyWebhook } from '../src/index.ts'
import { pythonVerify } from './python-verify.ts'

describe('a rotated secret, as the server signs it (both during the overlap, then the new one)', () => {
  it('a receiver holding only the previous secret verifies during the overlap and not after (TypeScript and Python)', async () => {
    const previous = generateWebhookSecret()
    const current = generateWebhookSecret()
    const rotatedAt = new Date()
    // What the endpoint stores after a rotation, through the same encoding the server uses.
    const stored = decodeWebhookSecret(
      encodeWebhookSecret({
        current,
        previous: { secret: previous, until: new Date(rotatedAt.getTime() + 86_400_000) },
      }),
    )
    const body = JSON.stringify({ id: 'evt_9', type: 'balance.low', data: { available: 1 } })
    const sign = (at: Date) => ({
      ...webhookHeaders(signingSecrets(stored, at), {
        id: 'evt_9',
        timestamp: Math.floor(Date.now() / 1000),
        body,
      }),
    })
    const during = sign(new Date(rotatedAt.getTime() + 3_600_000))
    const after = sign(new Date(rotatedAt.getTime() + 25 * 3_600_000))
    expect(during['webhook-signature'].split(' ')).toHaveLength(2)
    expect(after['webhook-signature'].split(' ')).toHaveLength(1)

    expect((await verifyWebhook(previous, during, body)).id).toBe('evt_9')
    expect((await verifyWebhook(current, during, body)).id).toBe('evt_9')
    expect((await verifyWebhook(current, after, body)).id).toBe('evt_9')
    await expect(verifyWebhook(previous, after, body)).rejects.toThrow('no signature matches')

    expect(pythonVerify(previous, during, body)).toBe('balance.low')
    expect(pythonVerify(current, after, body)).toBe('balance.low')
    expect(pythonVerify(previous, after, body)).toBe('refused: no signature matches')
  })
})
