/**
 * The README's "Margin control" section works as written: its example is the body of
 * readme-margin-example.ts (which tsc checks), and here it runs against a real server over HTTP —
 * the operator's console session sets the price and the cap, the bot's API key makes the call —
 * and the next call past the cap is refused with COST_CAP_REACHED and resetsAt.
 */
import { readFileSync } from 'node:fs'
import type { AppRouter } from '@e-stars/api'
import { billingErrorOf, createEStarsClient } from '@e-stars/api/client'
import { createApiKey, defineFeature, grantCredits } from '@e-stars/billing'
import { ledgerEntries as entries } from '@e-stars/db'
import { createTestDatabase } from '@e-stars/db/testing'
import { createTRPCClient, httpBatchLink } from '@trpc/client'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parseEnv } from '../src/env.ts'
import { type RunningServer, startServer } from '../src/server.ts'
import { marginControlExample } from './readme-margin-example.ts'

const silent = { info() {}, warn() {}, error() {} }
const readme = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8')
const example = readFileSync(new URL('./readme-margin-example.ts', import.meta.url), 'utf8')

/** The first ```ts block under a `## ` heading of the root README. */
const snippet = (heading: string) => {
  const section = readme.split(/^## /m).find((s) => s.startsWith(heading))
  return section && /```ts\n([\s\S]*?)```/.exec(section)?.[1]
}

let server: RunningServer
beforeAll(async () => {
  server = await startServer(parseEnv({ PORT: '0', RECONCILE_INTERVAL_SECONDS: '0' }), silent, {
    database: await createTestDatabase(),
  })
})
afterAll(() => server?.close())

/** The operator's console session over HTTP: the session cookie and its CSRF token. */
async function consoleSession() {
  const login = await fetch(`${server.url}/trpc/operator.auth.login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      email: server.demoOperator!.email,
      password: server.demoOperator!.password,
    }),
  })
  const cookie = login.headers.get('set-cookie')!.split(';')[0]!
  const { csrfToken } = ((await login.json()) as { result: { data: { csrfToken: string } } }).result
    .data
  return createTRPCClient<AppRouter>({
    links: [
      httpBatchLink({
        url: `${server.url}/trpc`,
        headers: () => ({ cookie, 'x-csrf-token': csrfToken }),
      }),
    ],
  })
}

describe('README: Margin control', () => {
  it('is the example tsc checks, verbatim', () => {
    const text = snippet('Margin control')
    expect(text).toBeTruthy()
    const body = /\/\/ README: begin\n([\s\S]*?)\/\/ README: end\n/.exec(example)?.[1]
    expect(body).toBe(text)
  })

  it('runs as written: the price prices the call, the cap stops the next one past it', async () => {
    const db = server.database.db
    const projectId = server.demoProjectId!
    const telegramUserId = 77_001
    const apiKey = (await createApiKey(db, { projectId, name: 'readme' })).key
    await defineFeature(db, {
      projectId,
      key: 'ai.tokens',
      name: 'AI tokens',
      kind: 'metered',
      credits: 1,
      perUnits: 100,
    })
    await grantCredits(db, {
      projectId,
      telegramUserId,
      amount: 10_000,
      reason: 'pack',
      source: 'manual',
      actor: 'test',
      idempotencyKey: 'readme-grant',
      valueMicros: 5_000_000,
    })
    const client = createEStarsClient({ url: server.url, apiKey })
    await marginControlExample(
      await consoleSession(),
      client,
      projectId,
      telegramUserId,
      'readme-1',
    )

    // 1,000 input tokens at 0.15 USD per million and 200 output at 0.60: 270 micro-USD.
    const [call] = (await db.select().from(entries)).filter(
      (e) => e.projectId === projectId && e.idempotencyKey === 'readme-1',
    )
    expect(call).toMatchObject({ costMicros: 270 })
    // The next call past the 0.50 USD cap: 4,000,000 input tokens cost 0.60 USD.
    const refused = await client.usage.consumeFeature
      .mutate({
        telegramUserId,
        feature: 'ai.tokens',
        quantity: 100,
        idempotencyKey: 'readme-2',
        usage: {
          provider: 'openai',
          model: 'gpt-4o-mini',
          inputTokens: 4_000_000,
          outputTokens: 0,
        },
      })
      .then(
        () => null,
        (e: unknown) => e,
      )
    expect(billingErrorOf(refused)).toMatchObject({ code: 'COST_CAP_REACHED' })
    expect(Date.parse(String(billingErrorOf(refused)?.resetsAt))).toBeGreaterThan(Date.now())
  })
})
