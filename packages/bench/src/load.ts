import { randomUUID } from 'node:crypto'
import { performance } from 'node:perf_hooks'
import { createEStarsClient } from '@e-stars/api/client'
import { summarize } from './stats.ts'

/** Load generator, run as its own process: N concurrent loops of `usage.consume` over HTTP. */
interface LoadPlan {
  url: string
  apiKey: string
  concurrency: number
  seconds: number
  customers: number
  hot: boolean
}

const plan = JSON.parse(process.argv[2] ?? '{}') as LoadPlan
const client = createEStarsClient({ url: plan.url, apiKey: plan.apiKey })
const latencies: number[] = []
let errors = 0
const started = performance.now()
const deadline = started + plan.seconds * 1000

async function worker() {
  while (performance.now() < deadline) {
    const telegramUserId = plan.hot ? 1 : 1 + Math.floor(Math.random() * plan.customers)
    const t0 = performance.now()
    try {
      await client.usage.consume.mutate({
        telegramUserId,
        amount: 1,
        reason: 'bench',
        idempotencyKey: randomUUID(),
      })
      latencies.push(performance.now() - t0)
    } catch {
      errors++
    }
  }
}

await Promise.all(Array.from({ length: plan.concurrency }, worker))
const elapsed = (performance.now() - started) / 1000
process.stdout.write(`${JSON.stringify({ ...summarize(latencies, elapsed), errors })}\n`)
