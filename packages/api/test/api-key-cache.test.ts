import { describe, expect, it } from 'vitest'
import { ApiKeyCache, type KeyOwner } from '../src/api-key-cache.ts'

const owner: KeyOwner = { projectId: 'p', keyId: 'k1' }

function countingLookup(answer: KeyOwner | null) {
  const gate: { open: () => void } = { open: () => {} }
  const opened = new Promise<void>((resolve) => {
    gate.open = resolve
  })
  let calls = 0
  const lookup = async () => {
    calls++
    await opened
    return answer
  }
  return { lookup, gate, calls: () => calls }
}

describe('ApiKeyCache', () => {
  it('a batch of calls meeting a cold cache looks the key up once', async () => {
    const cache = new ApiKeyCache()
    const l = countingLookup(owner)
    const answers = Array.from({ length: 64 }, () => cache.resolve('esk_a', l.lookup))
    l.gate.open()
    expect(await Promise.all(answers)).toEqual(Array(64).fill(owner))
    expect(l.calls()).toBe(1)
    // Cached afterwards: no lookup at all.
    expect(await cache.resolve('esk_a', l.lookup)).toEqual(owner)
    expect(l.calls()).toBe(1)
  })

  it('a revocation during a lookup: the answer is not cached, the next call looks again', async () => {
    const cache = new ApiKeyCache()
    const l = countingLookup(owner)
    const first = cache.resolve('esk_b', l.lookup)
    cache.forgetProjectKey('k1')
    l.gate.open()
    expect(await first).toEqual(owner)
    const revoked = countingLookup(null)
    revoked.gate.open()
    expect(await cache.resolve('esk_b', revoked.lookup)).toBeNull()
    expect(revoked.calls()).toBe(1)
  })

  it('a failed lookup is not cached and does not stick', async () => {
    const cache = new ApiKeyCache()
    await expect(
      cache.resolve('esk_c', () => Promise.reject(new Error('db down'))),
    ).rejects.toThrow('db down')
    expect(await cache.resolve('esk_c', async () => owner)).toEqual(owner)
  })
})
