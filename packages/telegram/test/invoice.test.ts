import { describe, expect, it } from 'vitest'
import {
  assertStarsInvoice,
  InvalidStarsInvoiceError,
  STARS_SUBSCRIPTION_PERIOD,
  starsInvoice,
} from '../src/index.ts'

const base = { title: 'Pack', description: '100 credits', payload: 'ord_1', amount: 100 }

function fieldOf(build: () => unknown): string | undefined {
  try {
    build()
  } catch (error) {
    if (error instanceof InvalidStarsInvoiceError) return error.field
    throw error
  }
  return undefined
}

describe('starsInvoice', () => {
  it('builds XTR params with provider_token "" and exactly one price labelled with the title', () => {
    expect(starsInvoice(base)).toEqual({
      title: 'Pack',
      description: '100 credits',
      payload: 'ord_1',
      currency: 'XTR',
      provider_token: '',
      prices: [{ label: 'Pack', amount: 100 }],
    })
    expect(
      starsInvoice({ ...base, label: '100 credits', photo_url: 'https://x/p.png' }),
    ).toMatchObject({
      prices: [{ label: '100 credits', amount: 100 }],
      photo_url: 'https://x/p.png',
    })
  })

  it('a subscription adds subscription_period 2592000', () => {
    expect(starsInvoice({ ...base, subscription: true }).subscription_period).toBe(2592000)
    expect(STARS_SUBSCRIPTION_PERIOD).toBe(2592000)
    expect(starsInvoice(base)).not.toHaveProperty('subscription_period')
  })

  it('title is 1–32 characters (counted as characters, not UTF-16 units)', () => {
    expect(fieldOf(() => starsInvoice({ ...base, title: '' }))).toBe('title')
    expect(fieldOf(() => starsInvoice({ ...base, title: 'x'.repeat(32) }))).toBeUndefined()
    expect(fieldOf(() => starsInvoice({ ...base, title: 'x'.repeat(33) }))).toBe('title')
    expect(fieldOf(() => starsInvoice({ ...base, title: '⭐'.repeat(32) }))).toBeUndefined()
    expect(fieldOf(() => starsInvoice({ ...base, title: '🌟'.repeat(32) }))).toBeUndefined()
    expect(fieldOf(() => starsInvoice({ ...base, title: '🌟'.repeat(33) }))).toBe('title')
  })

  it('description is 1–255 characters', () => {
    expect(fieldOf(() => starsInvoice({ ...base, description: '' }))).toBe('description')
    expect(fieldOf(() => starsInvoice({ ...base, description: 'd'.repeat(255) }))).toBeUndefined()
    expect(fieldOf(() => starsInvoice({ ...base, description: 'd'.repeat(256) }))).toBe(
      'description',
    )
  })

  it('payload is 1–128 bytes (UTF-8)', () => {
    expect(fieldOf(() => starsInvoice({ ...base, payload: '' }))).toBe('payload')
    expect(fieldOf(() => starsInvoice({ ...base, payload: 'p'.repeat(128) }))).toBeUndefined()
    expect(fieldOf(() => starsInvoice({ ...base, payload: 'p'.repeat(129) }))).toBe('payload')
    // 64 two-byte characters = 128 bytes; 65 = 130 bytes.
    expect(fieldOf(() => starsInvoice({ ...base, payload: 'é'.repeat(64) }))).toBeUndefined()
    expect(fieldOf(() => starsInvoice({ ...base, payload: 'é'.repeat(65) }))).toBe('payload')
  })

  it('amount is a positive whole number of Stars', () => {
    for (const amount of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 60]) {
      expect(fieldOf(() => starsInvoice({ ...base, amount }))).toBe('amount')
    }
    expect(fieldOf(() => starsInvoice({ ...base, amount: 1 }))).toBeUndefined()
    expect(fieldOf(() => starsInvoice({ ...base, amount: 100_000 }))).toBeUndefined()
  })

  it('a subscription costs at most 10000 Stars', () => {
    expect(
      fieldOf(() => starsInvoice({ ...base, amount: 10_000, subscription: true })),
    ).toBeUndefined()
    expect(fieldOf(() => starsInvoice({ ...base, amount: 10_001, subscription: true }))).toBe(
      'amount',
    )
  })

  it('an empty price label is refused', () => {
    expect(fieldOf(() => starsInvoice({ ...base, label: '' }))).toBe('label')
  })
})

describe('assertStarsInvoice', () => {
  const params = { ...starsInvoice(base) }

  it('accepts what starsInvoice builds, for both methods', () => {
    expect(() => assertStarsInvoice(params, 'sendInvoice')).not.toThrow()
    expect(() => assertStarsInvoice(params, 'createInvoiceLink')).not.toThrow()
  })

  it('refuses other currencies, provider tokens and price lists that are not exactly one', () => {
    expect(fieldOf(() => assertStarsInvoice({ ...params, currency: 'USD' }, 'sendInvoice'))).toBe(
      'currency',
    )
    expect(
      fieldOf(() => assertStarsInvoice({ ...params, provider_token: 'tok' }, 'sendInvoice')),
    ).toBe('provider_token')
    expect(fieldOf(() => assertStarsInvoice({ ...params, prices: [] }, 'sendInvoice'))).toBe(
      'prices',
    )
    expect(
      fieldOf(() =>
        assertStarsInvoice(
          {
            ...params,
            prices: [
              { label: 'a', amount: 1 },
              { label: 'b', amount: 1 },
            ],
          },
          'sendInvoice',
        ),
      ),
    ).toBe('prices')
  })

  it('refuses tips, shipping and contact fields', () => {
    expect(
      fieldOf(() => assertStarsInvoice({ ...params, max_tip_amount: 10 }, 'sendInvoice')),
    ).toBe('max_tip_amount')
    expect(
      fieldOf(() => assertStarsInvoice({ ...params, need_email: true }, 'createInvoiceLink')),
    ).toBe('need_email')
    expect(fieldOf(() => assertStarsInvoice({ ...params, is_flexible: true }, 'sendInvoice'))).toBe(
      'is_flexible',
    )
  })

  it('subscription_period only on createInvoiceLink and only 2592000', () => {
    expect(
      fieldOf(() => assertStarsInvoice({ ...params, subscription_period: 2592000 }, 'sendInvoice')),
    ).toBe('subscription_period')
    expect(
      fieldOf(() =>
        assertStarsInvoice({ ...params, subscription_period: 604800 }, 'createInvoiceLink'),
      ),
    ).toBe('subscription_period')
    expect(
      fieldOf(() =>
        assertStarsInvoice({ ...params, subscription_period: 2592000 }, 'createInvoiceLink'),
      ),
    ).toBeUndefined()
  })
})
