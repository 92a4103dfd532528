import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { createApiKey, createProject } from '@e-stars/billing'
import { openDatabase } from '@e-stars/db'
import postgres from 'postgres'

/** Customers the benches seed: their row ids and Telegram user ids are both 1..n. */
export const CUSTOMERS = 10_000

/**
 * A project with an API key and `CUSTOMERS` customers holding one lot of 10¹² credits each (no
 * run can empty it), written set-wise, then analysed.
 */
export async function seedCustomers(url: string): Promise<{ projectId: string; apiKey: string }> {
  const database = await openDatabase({ url, poolSize: 2 })
  const project = await createProject(database.db, { name: 'bench' })
  const key = await createApiKey(database.db, { projectId: project.id, name: 'bench' })
  const sql = postgres(url, { max: 1, onnotice: () => {} })
  const big = 1_000_000_000_000
  await sql`insert into customers (project_id, telegram_user_id, available)
            select ${project.id}, g, ${big} from generate_series(1, ${CUSTOMERS}) g`
  await sql`insert into grants (project_id, customer_id, amount, remaining, source, reason)
            select project_id, id, ${big}, ${big}, 'promo', 'bench' from customers where project_id = ${project.id}`
  await sql`insert into ledger_entries (project_id, customer_id, kind, amount, available_after, held_after, debt_after, grant_id, reason, actor)
            select g.project_id, g.customer_id, 'grant', ${big}, ${big}, 0, 0, g.id, 'bench', 'bench'
            from grants g where g.project_id = ${project.id}`
  // capture.ts turns the engine's row ids into the Telegram user id: they must be equal.
  const [aligned] = await sql<{ count: number }[]>`
    select count(*)::int as count from customers c join grants g on g.customer_id = c.id
    where c.project_id = ${project.id} and c.id = c.telegram_user_id and g.id = c.id`
  if (aligned?.count !== CUSTOMERS) throw new Error('seed: customer and grant ids are not 1..n')
  await sql`vacuum analyze`
  await sql.end()
  await database.close()
  return { projectId: project.id, apiKey: key.key }
}

const CLOCK_TICKS = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100

/** A process's CPU time so far (user + system, microseconds) and resident set (MB), from /proc. */
export function processStat(pid: number): { cpuMicros: number; rssMB: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  // Fields 14 and 15 of stat(5) (utime, stime) are the 12th and 13th after the command name.
  const ticks = Number(fields[11]) + Number(fields[12])
  const rss = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]
  return { cpuMicros: (ticks / CLOCK_TICKS) * 1e6, rssMB: Number(rss ?? 0) / 1024 }
}
