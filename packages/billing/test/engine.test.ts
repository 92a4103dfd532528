import { describe, expect, it } from 'vitest'
import {
  consume,
  expireDue,
  getBalance,
  HoldNotActive,
  IdempotencyConflict,
  InsufficientCredits,
  listLedger,
  NotFound,
  release,
  reserve,
  settle,
} from '../src/index.ts'
import {
  countEntries,
  createProject,
  fund,
  key,
  ledgerMismatches,
  useDatabase,
} from './fixtures.ts'

const t = useDatabase()
const use = (projectId: string, telegramUserId: number, amount: number, extra = {}) =>
  consume(t.db, {
    projectId,
    telegramUserId,
    amount,
    reason: 'AI answer',
    actor: 'test',
    idempotencyKey: key(),
    ...extra,
  })
const hold = (projectId: string, telegramUserId: number, amount: number, extra = {}) =>
  reserve(t.db, {
    projectId,
    telegramUserId,
    amount,
    reason: 'AI answer',
    actor: 'test',
    idempotencyKey: key(),
    ...extra,
  })

describe('grant and consume', () => {
  it('consume spends from the balance and writes one entry', async () => {
    const p = await createProject(t.db)
    await fund(t.db, p, 1, 100)
    const result = await use(p, 1, 30)
    expect(result).toMatchObject({ consumed: 30, available: 70, held: 0, debt: 0 })
    expect((await getBalance(t.db, { projectId: p, telegramUserId: 1 })).available).toBe(70)
    expect(await countEntries(t.db, p, 'consume')).toBe(1)
  })

  it('insufficient credits carries available and required, and writes nothing', async () => {
    const p = await createProject(t.db)
    await fund(t.db, p, 1, 10)
    const error = await use(p, 1, 11).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(InsufficientCredits)
    expect(error).toMatchObject({ available: 10, required: 11, code: 'INSUFFICIENT_CREDITS' })
    expect(await countEntries(t.db, p, 'consume')).toBe(0)
    expect((await getBalance(t.db, { projectId: p, telegramUserId: 1 })).available).toBe(10)
  })

  it('consume for an unknown customer is NotFound', async () => {
    const p = await createProject(t.db)
    await expect(use(p, 999, 1)).rejects.toBeInstanceOf(NotFound)
  })

  it('burns lots expiring soonest first, then higher priority, then oldest', async () => {
    const p = await createProject(t.db)
    const now = new Date()
    const later = new Date(now.getTime() + 86_400_000)
    const soon = new Date(now.getTime() + 3_600_000)
    const old = await fund(t.db, p, 1, 10)
    const high = await fund(t.db, p, 1, 10, { priority: 5 })
    const expiringLater = await fund(t.db, p, 1, 10, { expiresAt: later })
    const expiringSoon = await fund(t.db, p, 1, 10, { expiresAt: soon })
    const result = await use(p, 1, 35)
    expect(result.available).toBe(5)
    const { lots } = await getBalance(t.db, { projectId: p, telegramUserId: 1 })
    expect(lots.map((l) => [l.id, l.remaining])).toEqual([[old.grantId, 5]])
    const { entries } = await listLedger(t.db, { projectId: p, telegramUserId: 1, limit: 1 })
    expect(entries[0]!.lots).toEqual([
      { lotId: expiringSoon.grantId, amount: -10 },
      { lotId: expiringLater.grantId, amount: -10 },
      { lotId: high.grantId, amount: -10 },
      { lotId: old.grantId, amount: -5 },
    ])
  })
})

describe('reserve, settle, release', () => {
  it('reserve moves credits to held; settle below the hold returns the rest to the lots it came from', async () => {
    const p = await createProject(t.db)
    const a = await fund(t.db, p, 1, 30, { expiresAt: new Date(Date.now() + 3_600_000) })
    const b = await fund(t.db, p, 1, 100)
    const h = await hold(p, 1, 50)
    expect(h).toMatchObject({ amount: 50, available: 80, held: 50 })
    const s = await settle(t.db, {
      projectId: p,
      holdId: h.holdId,
      amount: 35,
      actor: 'test',
      idempotencyKey: key(),
    })
    expect(s).toMatchObject({
      reserved: 50,
      charged: 35,
      returned: 15,
      shortfall: 0,
      available: 95,
      held: 0,
    })
    const { lots } = await getBalance(t.db, { projectId: p, telegramUserId: 1 })
    // 30 came from lot a and 20 from lot b; 35 spent in that order, so 15 goes back to b.
    expect(lots.map((l) => [l.id, l.remaining])).toEqual([[b.grantId, 95]])
    expect(a.grantId).toBeLessThan(b.grantId)
  })

  it('settle above the hold charges the overage when it is available', async () => {
    const p = await createProject(t.db)
    await fund(t.db, p, 1, 100)
    const h = await hold(p, 1, 20)
    const s = await settle(t.db, {
      projectId: p,
      holdId: h.holdId,
      amount: 50,
      actor: 'test',
      idempotencyKey: key(),
    })
    expect(s).toMatchObject({
      reserved: 20,
      charged: 50,
      returned: 0,
      shortfall: 0,
      available: 50,
      held: 0,
    })
  })

  it('settle above the hold with too little left charges the hold and reports the shortfall', async () => {
    const p = await createProject(t.db)
    await fund(t.db, p, 1, 30)
    const h = await hold(p, 1, 20)
    const s = await settle(t.db, {
      projectId: p,
      holdId: h.holdId,
      amount: 45,
      actor: 'test',
      idempotencyKey: key(),
    })
    expect(s).toMatchObject({
      reserved: 20,
      charged: 20,
      shortfall: 25,
      available: 10,
      held: 0,
      debt: 0,
    })
  })

  it('release returns everything; a closed hold cannot be settled or released again', async () => {
    const p = await createProject(t.db)
    await fund(t.db, p, 1, 40)
    const h = await hold(p, 1, 40)
    expect(h.available).toBe(0)
    await expect(use(p, 1, 1)).rejects.toBeInstanceOf(InsufficientCredits)
    const r = await release(t.db, {
      projectId: p,
      holdId: h.holdId,
      actor: 'test',
      idempotencyKey: key(),
    })
    expect(r).toMatchObject({ returned: 40, available: 40, held: 0 })
    await expect(
      settle(t.db, {
        projectId: p,
        holdId: h.holdId,
        amount: 1,
        actor: 'test',
        idempotencyKey: key(),
      }),
    ).rejects.toMatchObject({ code: 'HOLD_NOT_ACTIVE', status: 'released' })
    await expect(
      release(t.db, { projectId: p, holdId: h.holdId, actor: 'test', idempotencyKey: key() }),
    ).rejects.toBeInstanceOf(HoldNotActive)
  })

  it('a hold of another project is not found', async () => {
    const p = await createProject(t.db)
    const other = await createProject(t.db)
    await fund(t.db, p, 1, 40)
    const h = await hold(p, 1, 10)
    await expect(
      settle(t.db, {
        projectId: other,
        holdId: h.holdId,
        amount: 1,
        actor: 'test',
        idempotencyKey: key(),
      }),
    ).rejects.toBeInstanceOf(NotFound)
  })
})

describe('expiry', () => {
  it('an expired lot stops counting at its instant, and the job writes its entry', async () => {
    const p = await createProject(t.db)
    const now = new Date()
    const expiresAt = new Date(now.getTime() + 60_000)
    await fund(t.db, p, 1, 50, { expiresAt, now })
    await fund(t.db, p, 1, 5, { now })
    const justBefore = new Date(expiresAt.getTime() - 1)
    expect(
      (await getBalance(t.db, { projectId: p, telegramUserId: 1, now: justBefore })).available,
    ).toBe(55)
    expect(
      (await getBalance(t.db, { projectId: p, telegramUserId: 1, now: expiresAt })).available,
    ).toBe(5)
    await expect(use(p, 1, 6, { now: expiresAt })).rejects.toMatchObject({
      available: 5,
      required: 6,
    })
    expect(await expireDue(t.db, { now: expiresAt })).toBeGreaterThanOrEqual(1)
    expect(await countEntries(t.db, p, 'expire')).toBe(1)
    expect(await expireDue(t.db, { now: expiresAt })).toBe(0)
    expect(await countEntries(t.db, p, 'expire')).toBe(1)
    expect(await ledgerMismatches(t.db)).toEqual([])
  })

  it('an expired hold returns its credits at its instant, and settling it afterwards is refused', async () => {
    const p = await createProject(t.db)
    const now = new Date()
    await fund(t.db, p, 1, 50, { now })
    const h = await hold(p, 1, 30, { now, ttlSeconds: 60 })
    const after = new Date(now.getTime() + 60_000)
    const balance = await getBalance(t.db, { projectId: p, telegramUserId: 1, now: after })
    expect(balance).toMatchObject({ available: 50, held: 0, holds: [] })
    await expect(
      settle(t.db, {
        projectId: p,
        holdId: h.holdId,
        amount: 10,
        actor: 'test',
        idempotencyKey: key(),
        now: after,
      }),
    ).rejects.toMatchObject({ code: 'HOLD_NOT_ACTIVE', status: 'expired' })
    // The refused settle rolled back with its transaction; the job writes the entry.
    expect(await countEntries(t.db, p, 'hold_expire')).toBe(0)
    await expireDue(t.db, { now: after })
    expect(await countEntries(t.db, p, 'hold_expire')).toBe(1)
    expect(
      (await getBalance(t.db, { projectId: p, telegramUserId: 1, now: after })).available,
    ).toBe(50)
    expect(await ledgerMismatches(t.db)).toEqual([])
  })

  it('credits held from a lot that expires meanwhile expire with it on release', async () => {
    const p = await createProject(t.db)
    const now = new Date()
    await fund(t.db, p, 1, 20, { now, expiresAt: new Date(now.getTime() + 10_000) })
    const h = await hold(p, 1, 20, { now, ttlSeconds: 3600 })
    const later = new Date(now.getTime() + 20_000)
    const r = await release(t.db, {
      projectId: p,
      holdId: h.holdId,
      actor: 'test',
      idempotencyKey: key(),
      now: later,
    })
    expect(r).toMatchObject({ returned: 0, available: 0, held: 0 })
    expect(await ledgerMismatches(t.db)).toEqual([])
  })
})

describe('idempotency', () => {
  it('same key and same input replays the first result without a second write', async () => {
    const p = await createProject(t.db)
    await fund(t.db, p, 1, 100)
    const k = key()
    const first = await use(p, 1, 10, { idempotencyKey: k })
    const again = await use(p, 1, 10, { idempotencyKey: k })
    expect(again).toEqual(first)
    expect((await getBalance(t.db, { projectId: p, telegramUserId: 1 })).available).toBe(90)
    expect(await countEntries(t.db, p, 'consume')).toBe(1)
  })

  it('same key with a different input is a conflict', async () => {
    const p = await createProject(t.db)
    await fund(t.db, p, 1, 100)
    const k = key()
    await use(p, 1, 10, { idempotencyKey: k })
    await expect(use(p, 1, 11, { idempotencyKey: k })).rejects.toBeInstanceOf(IdempotencyConflict)
    await expect(hold(p, 1, 10, { idempotencyKey: k })).rejects.toBeInstanceOf(IdempotencyConflict)
  })

  it('keys are scoped to the project', async () => {
    const p = await createProject(t.db)
    const q = await createProject(t.db)
    await fund(t.db, p, 1, 100)
    await fund(t.db, q, 1, 100)
    const k = key()
    await use(p, 1, 10, { idempotencyKey: k })
    expect((await use(q, 1, 20, { idempotencyKey: k })).available).toBe(80)
  })

  it('a failed call does not burn its key', async () => {
    const p = await createProject(t.db)
    await fund(t.db, p, 1, 5)
    const k = key()
    await expect(use(p, 1, 10, { idempotencyKey: k })).rejects.toBeInstanceOf(InsufficientCredits)
    await fund(t.db, p, 1, 5)
    expect((await use(p, 1, 10, { idempotencyKey: k })).available).toBe(0)
  })
})

describe('ledger listing', () => {
  it('pages newest first with a cursor', async () => {
    const p = await createProject(t.db)
    await fund(t.db, p, 1, 100)
    for (let i = 0; i < 5; i++) await use(p, 1, 1)
    const first = await listLedger(t.db, { projectId: p, telegramUserId: 1, limit: 4 })
    expect(first.entries.map((e) => e.kind)).toEqual(['consume', 'consume', 'consume', 'consume'])
    expect(first.nextCursor).not.toBeNull()
    const second = await listLedger(t.db, {
      projectId: p,
      telegramUserId: 1,
      limit: 4,
      cursor: first.nextCursor,
    })
    expect(second.entries.map((e) => e.kind)).toEqual(['consume', 'grant'])
    expect(second.nextCursor).toBeNull()
    expect(second.entries[1]!.availableAfter).toBe(100)
  })
})

describe('low-balance event on plain consume', () => {
  it('a consume that crosses the project threshold writes exactly one event', async () => {
    const { configureAccess, pollEvents } = await import('../src/index.ts')
    const p = await createProject(t.db)
    await configureAccess(t.db, { projectId: p, lowBalanceThreshold: 50 })
    await fund(t.db, p, 1, 100)
    await use(p, 1, 40) // 60: above
    await use(p, 1, 20) // 40: crossed
    await use(p, 1, 5) // 35: still below
    const polled = await pollEvents(t.db, { projectId: p })
    expect(polled.events.map((e) => [e.type, e.payload.available])).toEqual([['balance.low', 40]])
  })
})

describe('guards on holds', () => {
  it('settle refuses a negative actual cost', async () => {
    const p = await createProject(t.db)
    await fund(t.db, p, 1, 50)
    const h = await hold(p, 1, 10)
    await expect(
      settle(t.db, {
        projectId: p,
        holdId: h.holdId,
        amount: -5,
        actor: 'test',
        idempotencyKey: key(),
      }),
    ).rejects.toMatchObject({ code: 'INVALID_INPUT', field: 'amount' })
  })

  it("a feature reservation's hold cannot be closed by plain settle or release", async () => {
    const { defineFeature, reserveFeature } = await import('../src/index.ts')
    const { rows } = await import('@e-stars/db')
    const { sql } = await import('drizzle-orm')
    const p = await createProject(t.db)
    await defineFeature(t.db, {
      projectId: p,
      key: 'image',
      name: 'Image',
      kind: 'metered',
      credits: 20,
    })
    await fund(t.db, p, 1, 100)
    const r = await reserveFeature(t.db, {
      projectId: p,
      telegramUserId: 1,
      feature: 'image',
      quantity: 1,
      actor: 'test',
      idempotencyKey: key(),
    })
    const [row] = await rows<{ hold_id: string }>(
      t.db,
      sql`select hold_id from usage_reservations where project_id = ${p} and id = ${r.reservationId}`,
    )
    const holdId = row!.hold_id
    await expect(
      settle(t.db, { projectId: p, holdId, amount: 20, actor: 'test', idempotencyKey: key() }),
    ).rejects.toMatchObject({ code: 'INVALID_INPUT', field: 'holdId' })
    await expect(
      release(t.db, { projectId: p, holdId, actor: 'test', idempotencyKey: key() }),
    ).rejects.toMatchObject({
      code: 'INVALID_INPUT',
    })
  })
})

describe('credits returned to a lot bring its expiry back', () => {
  const t = useDatabase()

  it('a lot refilled by a release expires on time, and a later overage is a shortfall, not an error', async () => {
    const p = await createProject(t.db)
    const T = Date.now()
    const at = (s: number) => new Date(T + s * 1000)
    const base = { projectId: p, telegramUserId: 1, reason: 'r', actor: 't' }
    await fund(t.db, p, 1, 1, { expiresAt: at(10), now: at(0) }) // B
    await fund(t.db, p, 1, 10, { expiresAt: at(30), now: at(0) }) // A
    await consume(t.db, { ...base, amount: 1, idempotencyKey: key(), now: at(0) }) // B → 0
    const onA = await reserve(t.db, { ...base, amount: 10, idempotencyKey: key(), now: at(0) }) // A → 0
    await fund(t.db, p, 1, 5, { now: at(15) }) // sweeps B; C has no expiry
    const onC = await reserve(t.db, { ...base, amount: 1, idempotencyKey: key(), now: at(16) })
    await release(t.db, {
      projectId: p,
      actor: 't',
      holdId: onA.holdId,
      idempotencyKey: key(),
      now: at(20),
    }) // A → 10
    expect(await getBalance(t.db, { projectId: p, telegramUserId: 1, now: at(20) })).toMatchObject({
      available: 14,
    })
    // A expired at 30 s: only C's 4 credits are live, so an overage of 11 cannot be paid.
    const settled = await settle(t.db, {
      projectId: p,
      actor: 't',
      holdId: onC.holdId,
      amount: 12,
      idempotencyKey: key(),
      now: at(40),
    })
    expect(settled).toMatchObject({ reserved: 1, charged: 1, shortfall: 11, available: 4 })
    expect(await countEntries(t.db, p, 'expire')).toBe(1)
    expect(await ledgerMismatches(t.db)).toEqual([])
  })
})
