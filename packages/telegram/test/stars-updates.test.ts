import { describe, expect, it } from 'vitest'
import {
  MalformedPaymentUpdateError,
  parsePaymentUpdate,
  StarTransactionSchema,
  TransactionPartnerFragmentSchema,
} from '../src/index.ts'
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

describe('Stars treasury shapes (Bot API 10.1–10.3)', () => {
  it('a user transaction keeps its AffiliateInfo typed, with nanostars; Fragment withdrawal states parse', () => {
    const row = StarTransactionSchema.parse({
      id: 'stx1',
      amount: 333,
      date: 1,
      source: {
        type: 'user',
        transaction_type: 'invoice_payment',
        user: payer,
        affiliate: {
          affiliate_user: payer,
          commission_per_mille: 123,
          amount: 40,
          nanostar_amount: 959_000_000,
        },
      },
    })
    expect(row.source).toMatchObject({ affiliate: { amount: 40, nanostar_amount: 959_000_000 } })
    expect(() =>
      StarTransactionSchema.parse({
        id: 'stx2',
        amount: 1,
        date: 1,
        source: { type: 'user', user: payer, affiliate: { amount: 1 } },
      }),
    ).toThrow()
    for (const state of [
      { type: 'pending' },
      { type: 'succeeded', date: 5, url: 'https://fragment.com/x' },
      { type: 'failed' },
    ])
      expect(
        TransactionPartnerFragmentSchema.parse({ type: 'fragment', withdrawal_state: state }),
      ).toEqual({
        type: 'fragment',
        withdrawal_state: state,
      })
    expect(() =>
      TransactionPartnerFragmentSchema.parse({
        type: 'fragment',
        withdrawal_state: { type: 'succeeded' },
      }),
    ).toThrow()
  })
})
