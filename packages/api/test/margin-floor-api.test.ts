import { createOperator, createProject, defineFeature } from '@e-stars/billing'
import { beforeAll, describe, expect, it } from 'vitest'
import { consoleAs, errorOf, useDatabase } from './fixtures.ts'

/** Issue 14: the feature margin floor, set from the console (owners), read by viewers. */
const t = useDatabase()

let projectId: string

beforeAll(async () => {
  projectId = (await createProject(t.db, { name: 'Floors' })).id
  await createOperator(t.db, { email: 'f-owner@x.io', password: 'password123', projectId })
  await createOperator(t.db, {
    email: 'f-viewer@x.io',
    password: 'password123',
    projectId,
    role: 'viewer',
  })
  await defineFeature(t.db, {
    projectId,
    key: 'ai.tokens',
    name: 'Tokens',
    kind: 'metered',
    credits: 1,
    perUnits: 100,
  })
  await defineFeature(t.db, { projectId, key: 'pro', name: 'Pro', kind: 'gated' })
})

describe('margin.setFeatureFloor', () => {
  it('an owner sets and removes a floor; viewers read it and cannot change it', async () => {
    const owner = await consoleAs(t.db, 'f-owner@x.io')
    const viewer = await consoleAs(t.db, 'f-viewer@x.io')
    expect(await viewer().margin.featureFloors({ projectId })).toEqual([
      { featureKey: 'ai.tokens', name: 'Tokens', floorPercent: null },
    ])
    await owner().margin.setFeatureFloor({ projectId, featureKey: 'ai.tokens', floorPercent: 30 })
    expect(await viewer().margin.featureFloors({ projectId })).toEqual([
      { featureKey: 'ai.tokens', name: 'Tokens', floorPercent: 30 },
    ])
    expect(
      (
        await errorOf(
          viewer().margin.setFeatureFloor({ projectId, featureKey: 'ai.tokens', floorPercent: 10 }),
        )
      ).code,
    ).toBe('FORBIDDEN')
    await owner().margin.setFeatureFloor({ projectId, featureKey: 'ai.tokens', floorPercent: null })
    expect((await owner().margin.featureFloors({ projectId }))[0]!.floorPercent).toBeNull()
  })

  it('a floor outside 0–100 %, a gated or unknown feature: refused, naming the field, nothing written', async () => {
    const owner = await consoleAs(t.db, 'f-owner@x.io')
    for (const floorPercent of [-1, 101, 12.5]) {
      const error = await errorOf(
        owner().margin.setFeatureFloor({ projectId, featureKey: 'ai.tokens', floorPercent }),
      )
      expect(error.code).toBe('BAD_REQUEST')
      expect(error.message).toContain('floorPercent')
    }
    const gated = await errorOf(
      owner().margin.setFeatureFloor({ projectId, featureKey: 'pro', floorPercent: 10 }),
    )
    expect(gated.code).toBe('BAD_REQUEST')
    expect(gated.message).toContain('featureKey')
    expect(
      (
        await errorOf(
          owner().margin.setFeatureFloor({ projectId, featureKey: 'nope', floorPercent: 10 }),
        )
      ).code,
    ).toBe('NOT_FOUND')
    expect((await owner().margin.featureFloors({ projectId }))[0]!.floorPercent).toBeNull()
  })
})
