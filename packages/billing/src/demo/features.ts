import type { Db } from '@e-stars/db'
import { configureAccess } from '../usage/access-admin.ts'
import { defineFeature } from '../usage/features.ts'
import { setQuota } from '../usage/quotas.ts'

/**
 * Quotas count units of their feature, so "5 free prompts a day" is budgeted in tokens: a prompt
 * is taken as 1,000 tokens, and the free allowance is 5,000 `ai.tokens` a day.
 */
export const DEMO_PROMPT_TOKENS = 1_000

/**
 * The demo catalogue of features: `ai.tokens` (1 credit per 100 tokens, 5 prompts' worth free
 * a day), `image` (20 credits each; 10 a day for everyone, 200 a day for holders of the `plus`
 * product) and the gated `pro`. Low-balance events below 50 credits. Safe to run again.
 */
export async function seedDemoFeatures(db: Db, projectId: string): Promise<void> {
  await defineFeature(db, {
    projectId,
    key: 'ai.tokens',
    name: 'AI tokens',
    kind: 'metered',
    credits: 1,
    perUnits: 100,
  })
  await setQuota(db, {
    projectId,
    featureKey: 'ai.tokens',
    scope: 'project',
    limit: 5 * DEMO_PROMPT_TOKENS,
    period: 'day',
    free: true,
  })
  await defineFeature(db, { projectId, key: 'image', name: 'Image', kind: 'metered', credits: 20 })
  await setQuota(db, { projectId, featureKey: 'image', scope: 'project', limit: 10, period: 'day' })
  await setQuota(db, {
    projectId,
    featureKey: 'image',
    scope: 'product',
    productKey: 'plus',
    limit: 200,
    period: 'day',
  })
  await defineFeature(db, { projectId, key: 'pro', name: 'Pro mode', kind: 'gated' })
  await configureAccess(db, { projectId, lowBalanceThreshold: 50 })
}
