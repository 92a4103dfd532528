import type { EStarsClient, RouterOutputs } from '@e-stars/client'
import { errorFields, type Logger } from './logger.ts'

export type BillingEvent = RouterOutputs['events']['poll']['events'][number]

export interface EventWatcherOptions {
  client: EStarsClient
  /** Called once per event, oldest first; a throw is logged and the event is not retried. */
  handle: (event: BillingEvent) => Promise<void> | void
  logger: Logger
  /** Pause between polls when there was nothing new. Default 2000 ms. */
  intervalMs?: number
  /**
   * Events older than this when the watcher starts are skipped (already nudged by an earlier run,
   * or stale). Default 10 minutes.
   */
  maxAgeMs?: number
  now?: () => number
}

export interface EventWatcher {
  /** Resolves after the current poll (and its handlers) finished. */
  stop(): Promise<void>
  /** One poll now (tests); returns how many events were handled. */
  pollOnce(): Promise<number>
}

/**
 * Follows `events.poll` (low balance, quota exhausted…) with a cursor. The engine writes one event
 * per crossing; the cursor makes each one handled once per process.
 */
export function watchEvents(options: EventWatcherOptions): EventWatcher {
  const now = options.now ?? Date.now
  const intervalMs = options.intervalMs ?? 2000
  const oldest = now() - (options.maxAgeMs ?? 10 * 60_000)
  let cursor: string | null = null
  let stopped = false
  let timer: NodeJS.Timeout | undefined
  let running: Promise<number> | null = null

  async function poll(): Promise<number> {
    let handled = 0
    for (;;) {
      const page: RouterOutputs['events']['poll'] = await options.client.events.poll.query({
        cursor,
        limit: 100,
      })
      for (const event of page.events) {
        cursor = event.id
        if (Date.parse(event.createdAt) < oldest) continue
        try {
          await options.handle(event)
          handled += 1
        } catch (error) {
          options.logger.warn(
            { eventId: event.id, type: event.type, err: errorFields(error) },
            'handling an e-Stars event failed',
          )
        }
      }
      if (page.cursor) cursor = page.cursor
      if (page.events.length < 100 || stopped) return handled
    }
  }

  function pollOnce() {
    running ??= poll().finally(() => {
      running = null
    })
    return running
  }

  function loop() {
    if (stopped) return
    pollOnce()
      .catch((error: unknown) =>
        options.logger.warn({ err: errorFields(error) }, 'polling e-Stars events failed'),
      )
      .finally(() => {
        if (!stopped) timer = setTimeout(loop, intervalMs)
      })
  }
  timer = setTimeout(loop, 0)

  return {
    pollOnce,
    async stop() {
      stopped = true
      clearTimeout(timer)
      await running?.catch(() => {})
    },
  }
}
