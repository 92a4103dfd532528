import type { Db } from '@e-stars/db'
import { BillingError, InvalidInput } from '../errors.ts'
import { reportCostCapRefusal } from '../margin/cap-events.ts'
import { type ConsumeInput, type ConsumeResult, consumeRun } from './consume.ts'
import {
  type ConsumeFeatureInput,
  type ConsumeFeatureResult,
  consumeFeature,
  releaseFeature,
  reserveFeature,
  settleFeature,
} from './feature-usage.ts'
import { grouped, groupedStaged } from './group-commit.ts'

/** Items per batch call at most: one request's worth of group-commit batches. */
export const MAX_BATCH_ITEMS = 1000

/** One item's own outcome: its result, or the typed error it would have got alone. */
export type ItemOutcome<R> =
  | { ok: true; result: R }
  | { ok: false; error: { code: string; message: string } & Record<string, unknown> }

/** A credit-level consume without the fields the batch supplies once for all its items. */
export type ConsumeItem = Omit<ConsumeInput, 'projectId' | 'actor'>
export type ConsumeFeatureItem = Omit<ConsumeFeatureInput, 'projectId' | 'actor'>

/**
 * Many consumes in one call (a bot that meters per message in bulk). Each item is its own act,
 * with its own idempotency key: the items join the group-commit lanes of their customers in the
 * order given, exactly as that many separate calls arriving together would, so an item's outcome
 * is the one it would have had alone after the items before it. A refused item does not touch
 * the others; the call answers once every item has committed or been refused.
 */
export function consumeMany(
  db: Db,
  context: { projectId: string; actor: string },
  items: ConsumeItem[],
): Promise<ItemOutcome<ConsumeResult>[]> {
  assertBatchSize(items.length)
  return Promise.all(
    items.map((item) => {
      const input = { ...item, ...context }
      return settleOutcome(
        (
          groupedStaged(
            db,
            { projectId: input.projectId, telegramUserId: input.telegramUserId },
            { input, runMany: consumeRun },
          ) as Promise<ConsumeResult>
        ).catch(async (error: unknown) => {
          throw await reportCostCapRefusal(db, input, error)
        }),
      )
    }),
  )
}

/** Many feature consumes in one call; each item as `consumeFeature` alone would answer it. */
export function consumeFeatureMany(
  db: Db,
  context: { projectId: string; actor: string },
  items: ConsumeFeatureItem[],
): Promise<ItemOutcome<ConsumeFeatureResult>[]> {
  assertBatchSize(items.length)
  return Promise.all(
    items.map((item) => settleOutcome(consumeFeatureGrouped(db, { ...item, ...context }))),
  )
}

/** `consumeFeature` as one act of its customer's next group-commit batch. */
export function consumeFeatureGrouped(
  db: Db,
  input: ConsumeFeatureInput,
): Promise<ConsumeFeatureResult> {
  return grouped(db, { projectId: input.projectId, telegramUserId: input.telegramUserId }, (tx) =>
    consumeFeature(tx, input),
  )
}

/** `reserveFeature` as one act of its customer's next group-commit batch. */
export function reserveFeatureGrouped(
  db: Db,
  input: Parameters<typeof reserveFeature>[1],
): ReturnType<typeof reserveFeature> {
  return grouped(db, { projectId: input.projectId, telegramUserId: input.telegramUserId }, (tx) =>
    reserveFeature(tx, input),
  )
}

/** `settleFeature` as one act of a group-commit batch (its customer is known once it runs). */
export function settleFeatureGrouped(
  db: Db,
  input: Parameters<typeof settleFeature>[1],
): ReturnType<typeof settleFeature> {
  return grouped(db, { projectId: input.projectId, laneKey: input.reservationId }, (tx) =>
    settleFeature(tx, input),
  )
}

/** `releaseFeature` as one act of a group-commit batch (its customer is known once it runs). */
export function releaseFeatureGrouped(
  db: Db,
  input: Parameters<typeof releaseFeature>[1],
): ReturnType<typeof releaseFeature> {
  return grouped(db, { projectId: input.projectId, laneKey: input.reservationId }, (tx) =>
    releaseFeature(tx, input),
  )
}

function assertBatchSize(count: number): void {
  if (count < 1 || count > MAX_BATCH_ITEMS) {
    throw new InvalidInput('items', `must hold 1 to ${MAX_BATCH_ITEMS} items, not ${count}`)
  }
}

/** A typed refusal becomes the item's outcome; anything else fails the whole call, as alone. */
async function settleOutcome<R>(work: Promise<R>): Promise<ItemOutcome<R>> {
  try {
    return { ok: true, result: await work }
  } catch (error) {
    if (!(error instanceof BillingError)) throw error
    const {
      name: _name,
      message,
      stack: _stack,
      ...facts
    } = error as BillingError & Record<string, unknown>
    return { ok: false, error: { ...facts, code: error.code, message } }
  }
}
