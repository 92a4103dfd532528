import { randomUUID } from 'node:crypto'
import { performance } from 'node:perf_hooks'
import { createEStarsClient } from '@e-stars/api/client'
import { summarize } from './stats.ts'

/**
 * Load generator, run as its own process: N concurrent loops over HTTP through the typed client,
 * of `usage.consume` (one consume per call) or `usage.consumeMany` (`batch` consumes per call).
 * Reports consumes/s (items, not calls), per-call latency, errors and this process's own CPU.
 */
interface LoadPlan {
  url: string
  apiKey: string
  concurrency: number
  seconds: number
  customers: number
  hot: boolean
  /** Items per `usage.consumeMany` call; absent: `usage.consume`. */
  batch?: number
}

const plan = JSON.parse(process.argv[2] ?? '{}') as LoadPlan
const client = createEStarsClient({ url: plan.url, apiKey: plan.apiKey })
const latencies: number[] = []
let errors = 0
/** The first few distinct errors, so a run with errors says what they were. */
const firstErrors = new Set<string>()
const noteError = (what: string) => {
  if (firstErrors.size < 3) firstErrors.add(what.slice(0, 300))
}
let consumes = 0
const customer = () => (plan.hot ? 1 : 1 + Math.floor(Math.random() * plan.customers))
const item = () => ({
  telegramUserId: customer(),
  amount: 1,
  reason: 'bench',
  idempotencyKey: randomUUID(),
})
const started = performance.now()
const cpuStarted = process.cpuUsage()
const deadline = started + plan.seconds * 1000

async function worker() {
  while (performance.now() < deadline) {
    const t0 = performance.now()
    try {
      if (plan.batch) {
        const results = await client.usage.consumeMany.mutate({
          items: Array.from({ length: plan.batch }, item),
        })
        const failed = results.filter((result: { ok: boolean }) => !result.ok).length
        for (const result of results as {
          ok: boolean
          error?: { code: string; message: string }
        }[])
          if (!result.ok) noteError(`${result.error?.code}: ${result.error?.message}`)
        errors += failed
        consumes += results.length - failed
      } else {
        await client.usage.consume.mutate(item())
        consumes++
      }
      latencies.push(performance.now() - t0)
    } catch (error) {
      errors++
      const data = (error as { data?: { code?: string; billing?: { code?: string } } }).data
      noteError(`${data?.billing?.code ?? data?.code ?? 'transport'}: ${(error as Error).message}`)
    }
  }
}

await Promise.all(Array.from({ length: plan.concurrency }, worker))
const elapsed = (performance.now() - started) / 1000
const cpu = process.cpuUsage(cpuStarted)
const calls = summarize(latencies, elapsed)
process.stdout.write(
  `${JSON.stringify({
    ...calls,
    ops: consumes,
    opsPerSec: consumes / elapsed,
    errors,
    firstErrors: [...firstErrors],
    cpuMicros: cpu.user + cpu.system,
  })}\n`,
)
