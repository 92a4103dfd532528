import { describe, expect, it } from 'vitest'
import { MalformedPaymentUpdateError, parsePaymentUpdate } from '../src/index.ts'
import { payer } from './fixtures.ts'

function thrownBy(fn: () => unknown): unknown {
  try {
    fn()
  } catch (error) {
    return error
  }
  return undefined
}

describe('parsePaymentUpdate: Bot API 10.2/10.3 Stars updates', () => {
  it('Update.subscription: user, payload and state', () => {
    for (const state of ['active', 'canceled', 'failed'] as const) {
      const update = {
        update_id: 7,
        subscription: { user: payer, invoice_payload: 'sub-1', state },
      }
      expect(parsePaymentUpdate(update)).toEqual({
        kind: 'subscription',
        updateId: 7,
        subscription: { user: payer, invoice_payload: 'sub-1', state },
      })
    }
  })

  it('an unknown subscription state or a missing payload is a MalformedPaymentUpdateError, never null', () => {
    const unknownState = {
      update_id: 8,
      subscription: { user: payer, invoice_payload: 'x', state: 'paused' },
    }
    const noPayload = { update_id: 9, subscription: { user: payer, state: 'active' } }
    for (const [update, field] of [
      [unknownState, 'state'],
      [noPayload, 'invoice_payload'],
    ] as const) {
      const error = thrownBy(() => parsePaymentUpdate(update))
      expect(error).toBeInstanceOf(MalformedPaymentUpdateError)
      expect(error).toMatchObject({ kind: 'subscription' })
      expect((error as MalformedPaymentUpdateError).issues.join('\n')).toContain(field)
    }
  })

  it('Update.purchased_paid_media: the buyer and the payload; a missing payload is malformed', () => {
    const update = {
      update_id: 11,
      purchased_paid_media: { from: payer, paid_media_payload: 'album-7' },
    }
    expect(parsePaymentUpdate(update)).toEqual({
      kind: 'purchased_paid_media',
      updateId: 11,
      purchase: { from: payer, paid_media_payload: 'album-7' },
    })
    const error = thrownBy(() =>
      parsePaymentUpdate({ update_id: 12, purchased_paid_media: { from: payer } }),
    )
    expect(error).toMatchObject({ kind: 'purchased_paid_media' })
    expect((error as MalformedPaymentUpdateError).issues.join('\n')).toContain('paid_media_payload')
  })
})
