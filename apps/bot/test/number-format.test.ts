import { formatNumber, plural as sharedPlural } from '@e-stars/billing/format'
import { DEFAULT_MESSAGES } from '@e-stars/telegraf'
import { describe, expect, it } from 'vitest'
import { formatCount, plural, WORDS } from '../src/wording.ts'

/**
 * Issue 18, item 10: one number format across the console, the Mini App, the bot and the
 * timeline. The bot said "5 000" where the console and the Mini App said "5,000".
 */
describe('the bot writes numbers as the rest of e-Stars does', () => {
  it('its formatter is the shared one, not a copy', () => {
    expect(formatCount).toBe(formatNumber)
    for (const n of [0, 7, 999, 1_000, 5_000, 12_345, 2_147_483_648, -495, -100_000])
      expect(plural(n, 'credit', 'credits')).toBe(sharedPlural(n, 'credit', 'credits'))
  })

  it('its replies group thousands with a comma, never a space, and count in the singular for one', () => {
    const free = { limit: 5_000, remaining: 4_321, period: 'day', resetsAt: null }
    const replies = [
      WORDS.start.askFree(free),
      WORDS.start.balance(12_000),
      WORDS.balance.available(1_500),
      WORDS.balance.free(free),
      WORDS.ask.tokens(6_050),
      WORDS.ask.tooLong(4_000),
      WORDS.ask.cost({ charged: 1_234, freeQuantity: 0, shortfall: 0 }),
      WORDS.refusals.notEnough('this answer', 1_100, 1_000, null),
      WORDS.payments.received([WORDS.payments.credits(5_000)], 5_100),
    ]
    for (const reply of replies) expect(reply, reply).not.toMatch(/\d \d{3}\b/)
    expect(WORDS.start.askFree(free)).toContain('5,000 tokens')
    expect(WORDS.start.askFree(free)).toContain('4,321 left')
    expect(WORDS.ask.tokens(6_050)).toBe('— 6,050 tokens')
    expect(WORDS.payments.credits(5_000)).toBe('+5,000 credits')
    expect(WORDS.balance.available(1)).toBe('Balance: 1 credit.')
  })

  it('the adapters’ default payment and refund messages use the same format', () => {
    const received = DEFAULT_MESSAGES.paymentReceived({
      duplicate: false,
      status: 'paid',
      flag: null,
      credits: 5_000,
      available: 12_500,
      entitlement: null,
    } as never)
    expect(received).toContain(`+${formatNumber(5_000)} credits`)
    expect(received).toContain(`Balance: ${formatNumber(12_500)} credits`)
    const refunded = DEFAULT_MESSAGES.refundReceived(
      { voided: 1_200, repaidFromOtherLots: 0, debtAdded: 3_400, entitlementsRevoked: 0 } as never,
      { total_amount: 250 } as never,
    )
    expect(refunded).toContain('1,200 unused credits')
    expect(refunded).toContain('3,400 credits already used')
  })
})
