import { beforeAll, describe, expect, it } from 'vitest'
import { consoleAs, consoleProjects, errorOf, useDatabase } from './fixtures.ts'

const t = useDatabase()
let projectId: string

beforeAll(async () => {
  ;({ projectId } = await consoleProjects(t.db, 'Refunds', 'ra'))
})

describe('refundAbuse procedures', () => {
  it('an owner sets the policy; viewers read it; the change is audited', async () => {
    const owner = await consoleAs(t.db, 'ra-owner@x.io')
    expect(await owner().refundAbuse.policy({ projectId })).toEqual({
      limit: null,
      windowDays: 30,
      action: 'refuse',
    })
    expect(
      await owner().refundAbuse.setPolicy({ projectId, limit: 3, windowDays: 14, action: 'block' }),
    ).toEqual({ limit: 3, windowDays: 14, action: 'block' })
    const viewer = await consoleAs(t.db, 'ra-viewer@x.io')
    expect(await viewer().refundAbuse.policy({ projectId })).toMatchObject({ limit: 3 })
    expect((await errorOf(viewer().refundAbuse.setPolicy({ projectId, limit: 9 }))).code).toBe(
      'FORBIDDEN',
    )
    expect(await viewer().refundAbuse.customers({ projectId })).toEqual([])
    expect(JSON.stringify(await owner().operator.audit.list({ projectId }))).toContain(
      'settings.refund_abuse',
    )
  })

  it('bad input is BAD_REQUEST naming the field, and nothing is written', async () => {
    const owner = await consoleAs(t.db, 'ra-owner@x.io')
    const before = await owner().refundAbuse.policy({ projectId })
    for (const [patch, field] of [
      [{ limit: 0 }, 'limit'],
      [{ limit: 2.5 }, 'limit'],
      [{ windowDays: 0 }, 'windowDays'],
      [{ windowDays: 400 }, 'windowDays'],
      [{ action: 'ban' }, 'action'],
    ] as const) {
      const error = await errorOf(
        owner().refundAbuse.setPolicy({ projectId, ...(patch as object) } as never),
      )
      expect(error.code).toBe('BAD_REQUEST')
      expect(error.message).toContain(field)
    }
    expect(await owner().refundAbuse.policy({ projectId })).toEqual(before)
  })

  it('another project’s operator sees nothing of this one', async () => {
    const stranger = await consoleAs(t.db, 'ra-stranger@x.io')
    expect((await errorOf(stranger().refundAbuse.policy({ projectId }))).code).toBe('FORBIDDEN')
    expect((await errorOf(stranger().refundAbuse.setPolicy({ projectId, limit: 1 }))).code).toBe(
      'FORBIDDEN',
    )
    expect(
      (await errorOf(stranger().refundAbuse.customer({ projectId, telegramUserId: 1 }))).code,
    ).toBe('FORBIDDEN')
  })
})
