import { describe, expect, it } from 'vitest'
import { formatNumber, formatSigned, formatStars, numberInWords, plural } from '../src/format.ts'

describe('the one formatter', () => {
  it('groups thousands with a comma everywhere, and writes a true minus', () => {
    expect(formatNumber(2_147_383_754)).toBe('2,147,383,754')
    expect(formatNumber(-100_000)).toBe('\u2212100,000')
    expect(formatNumber(0)).toBe('0')
    expect(formatNumber(null)).toBe('—')
    expect(formatSigned(500)).toBe('+500')
    expect(formatSigned(-120)).toBe('\u2212120')
    expect(formatStars(1_000)).toBe('1,000 ★')
  })

  it('counts in the singular for one and the plural otherwise', () => {
    expect(plural(1, 'credit')).toBe('1 credit')
    expect(plural(0, 'credit')).toBe('0 credits')
    expect(plural(1_000, 'payment')).toBe('1,000 payments')
    expect(plural(-1, 'credit')).toBe('\u22121 credit')
    expect(plural(2, 'entitlement ended', 'entitlements ended')).toBe('2 entitlements ended')
  })

  it('says an amount in words so a slipped zero is seen', () => {
    expect(numberInWords(0)).toBe('zero')
    expect(numberInWords(15)).toBe('fifteen')
    expect(numberInWords(10_000)).toBe('ten thousand')
    expect(numberInWords(1_000_001)).toBe('one million one')
    expect(numberInWords(2_147_483_648)).toBe(
      'two billion one hundred forty-seven million four hundred eighty-three thousand six hundred forty-eight',
    )
    expect(numberInWords(-42)).toBe('minus forty-two')
  })
})
