import type { EStarsClient, RouterInputs, RouterOutputs } from '@e-stars/client'

/** One feature consumption for the bulk meter: the user, the feature, the units, its own key. */
export type BulkItem = RouterInputs['usage']['consumeFeatureMany']['items'][number]
/** Its own outcome: the consumption, or the typed refusal it would have had alone. */
export type BulkOutcome = RouterOutputs['usage']['consumeFeatureMany'][number]

export interface BulkMeterOptions {
  client: EStarsClient
  /** How long an item waits for others before the batch goes (default 200 ms). */
  flushMs?: number
  /** Items per `usage.consumeFeatureMany` call (default and most: 1,000). */
  maxItems?: number
}

export interface BulkMeter {
  /** Queues one consumption; resolves with its own outcome once its batch has been answered. */
  add(item: BulkItem): Promise<BulkOutcome>
  /** Sends what is queued now; resolves when every batch in flight has been answered. */
  flush(): Promise<void>
}

export const MAX_BULK_ITEMS = 1000

/**
 * Meters per message in bulk: a bot that counts every message (or every token of a stream) adds
 * each one here, and the meter sends them to e-Stars as `usage.consumeFeatureMany` calls of up to
 * 1,000 items, each item with its own idempotency key and its own outcome, in order. A refused
 * item (no credits, a quota) does not touch the others; a failed call (e-Stars down) rejects
 * every item of it, so the caller can keep the items and add them again (their keys make a
 * retry safe).
 */
export function createBulkMeter(options: BulkMeterOptions): BulkMeter {
  const flushMs = options.flushMs ?? 200
  const maxItems = Math.min(MAX_BULK_ITEMS, Math.max(1, options.maxItems ?? MAX_BULK_ITEMS))
  let queue: { item: BulkItem; resolve(o: BulkOutcome): void; reject(e: unknown): void }[] = []
  let timer: ReturnType<typeof setTimeout> | null = null
  const inFlight = new Set<Promise<void>>()

  function send() {
    if (timer) clearTimeout(timer)
    timer = null
    while (queue.length > 0) {
      const batch = queue.slice(0, maxItems)
      queue = queue.slice(maxItems)
      const call = options.client.usage.consumeFeatureMany
        .mutate({ items: batch.map((q) => q.item) })
        .then(
          (outcomes) => {
            batch.forEach((q, i) => {
              q.resolve(outcomes[i]!)
            })
          },
          (error: unknown) => {
            for (const q of batch) q.reject(error)
          },
        )
        .finally(() => inFlight.delete(call))
      inFlight.add(call)
    }
  }

  return {
    add(item) {
      return new Promise<BulkOutcome>((resolve, reject) => {
        queue.push({ item, resolve, reject })
        if (queue.length >= maxItems) send()
        else timer ??= setTimeout(send, flushMs)
      })
    },
    async flush() {
      send()
      await Promise.all([...inFlight])
    },
  }
}
