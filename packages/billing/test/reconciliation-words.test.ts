import { describe, expect, it } from 'vitest'
import { summaryWords } from '../src/index.ts'

describe('a reconciliation run summary in words', () => {
  it('says "15 charges Telegram does not know", not "unknown at telegram.flagged: 15"', () => {
    expect(
      summaryWords({
        charges: 1_250,
        refunds: 1,
        'unknown_at_telegram.flagged': 15,
        'missing_payment.recorded': 1,
        'refund_unknown_at_telegram.flagged': 2,
      }),
    ).toEqual([
      '1,250 charges at Telegram',
      '1 refund at Telegram',
      '15 charges Telegram does not know',
      '1 charge e-Stars lacked, now recorded',
      '2 refunds Telegram does not know',
    ])
  })

  it('a count it has no words for keeps its key; what is not a count is left out', () => {
    expect(summaryWords({ 'new_kind.flagged': 3, note: 'x' })).toEqual(['3 new_kind.flagged'])
  })
})
