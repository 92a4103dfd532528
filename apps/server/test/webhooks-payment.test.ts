/**
 * Webhooks end to end through the server a bot talks to: an endpoint added in the console API, a
 * payment and its refund recorded through REST, and exactly their two events arrive, signed. And
 * REST input that does not match its schema is 400 problem+json naming the field, with nothing
 * written: no row anywhere, no event, no delivery.
 */
import { randomUUID } from 'node:crypto'
import { createServer, type IncomingHttpHeaders } from 'node:http'
import type { AddressInfo } from 'node:net'
import { verifyWebhook } from '@e-stars/billing'
import { rows } from '@e-stars/db'
import { sql } from 'drizzle-orm'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ALICE, type Stack, startStack } from '../src/testing.ts'

let stack: Stack
const got: Array<{ headers: IncomingHttpHeaders; body: string }> = []
const hook = createServer((req, res) => {
  let body = ''
  req.setEncoding('utf8').on('data', (c: string) => {
    body += c
  })
  req.on('end', () => {
    got.push({ headers: req.headers, body })
    res.writeHead(204).end()
  })
})
let secret: string

async function trpc(path: string, body: unknown, headers: Record<string, string> = {}) {
  const response = await fetch(`${stack.server.url}/trpc/${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  })
  return { response, json: (await response.json()) as { result: { data: unknown } } }
}

async function rest(path: string, body: unknown, headers: Record<string, string> = {}) {
  const response = await fetch(`${stack.server.url}/api/v1${path}`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${stack.apiKey}`,
      'content-type': 'application/json',
      ...headers,
    },
    body: JSON.stringify(body),
  })
  return {
    status: response.status,
    type: response.headers.get('content-type') ?? '',
    body: (await response.json()) as Record<string, unknown>,
  }
}

async function waitFor(what: string, check: () => boolean, ms = 30_000) {
  const end = Date.now() + ms
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 100))
  }
}

/** Rows in every table of the schema: an insert or a delete anywhere changes it. */
async function rowCounts(): Promise<Record<string, number>> {
  const tables = await rows<{ name: string }>(
    stack.db,
    sql`select tablename as name from pg_tables where schemaname = current_schema() order by 1`,
  )
  const counts: Record<string, number> = {}
  for (const { name } of tables) {
    const [row] = await rows<{ n: string }>(
      stack.db,
      sql.raw(`select count(*) as n from "${name}"`),
    )
    counts[name] = Number(row?.n)
  }
  return counts
}

beforeAll(async () => {
  stack = await startStack()
  await new Promise<void>((r) => hook.listen(0, '127.0.0.1', r))
  const operator = stack.server.demoOperator!
  const login = await trpc('operator.auth.login', operator)
  const cookie = login.response.headers.get('set-cookie')!.split(';')[0]!
  const { csrfToken } = login.json.result.data as { csrfToken: string }
  const created = await trpc(
    'webhooks.create',
    {
      projectId: stack.projectId,
      url: `http://127.0.0.1:${(hook.address() as AddressInfo).port}/e-stars`,
    },
    { cookie, 'x-csrf-token': csrfToken },
  )
  expect(created.response.status, JSON.stringify(created.json)).toBe(200)
  secret = (created.json.result.data as { secret: string }).secret
}, 120_000)

afterAll(async () => {
  await stack?.close()
  hook.closeAllConnections()
  await new Promise((r) => hook.close(r))
})

describe('webhooks of a payment and its refund, through REST', () => {
  it('exactly payment.succeeded, then the refund’s balance.low and payment.refunded, signed; a repeated record adds none', async () => {
    const user = ALICE
    const invoice = await rest('/invoices', { telegramUserId: user, productKey: 'pack_m' })
    expect(invoice.status, JSON.stringify(invoice.body)).toBe(200)
    const chargeId = `stx-${randomUUID()}`
    const from = { id: user, is_bot: false, first_name: 'Alice' }
    const successfulPayment = {
      currency: 'XTR',
      total_amount: 100,
      invoice_payload: invoice.body.payload,
      telegram_payment_charge_id: chargeId,
    }
    const paid = await rest('/payments', { successfulPayment, from })
    expect(paid.status, JSON.stringify(paid.body)).toBe(200)
    // Telegram delivers the update again: recorded once, one event.
    expect((await rest('/payments', { successfulPayment, from })).body).toMatchObject({
      duplicate: true,
    })
    await waitFor('the payment event', () => got.length >= 1)
    const refundedPayment = { ...successfulPayment, invoice_payload: 'ignored-by-charge-id' }
    const refunded = await rest('/payments/refunded', { refundedPayment, from })
    expect(refunded.status, JSON.stringify(refunded.body)).toBe(200)
    expect((await rest('/payments/refunded', { refundedPayment, from })).status).toBe(200)
    await waitFor('the refund event', () => got.length >= 3)
    // Two more job runs: nothing else arrives.
    await new Promise((r) => setTimeout(r, 4500))
    const events = got.map((r) => JSON.parse(r.body))
    // The refund's transaction writes two: the 1,200 credits it voids take the balance under the
    // demo project's threshold (balance.low), then the refund itself.
    expect(events.map((e) => e.type)).toEqual([
      'payment.succeeded',
      'balance.low',
      'payment.refunded',
    ])
    expect(events[1].data).toMatchObject({ available: 0 })
    expect(events[0].data).toMatchObject({
      telegramPaymentChargeId: chargeId,
      telegramUserId: user,
      amountStars: 100,
      productKey: 'pack_m',
      status: 'paid',
    })
    expect(events[2].data).toMatchObject({
      telegramPaymentChargeId: chargeId,
      telegramUserId: user,
    })
    for (const r of got) expect(verifyWebhook(secret, r.headers, r.body)).toBe(true)
  }, 60_000)

  it('a REST body not matching its schema, or an Idempotency-Key over the limit: 400 naming the field, nothing written', async () => {
    const before = await rowCounts()
    const arrived = got.length
    const base = {
      telegramUserId: ALICE,
      amount: 1,
      reason: 'x',
      idempotencyKey: `bad-${randomUUID()}`,
    }
    const cases: Array<[string, unknown, Record<string, string>, string]> = [
      ['/usage/consume', { ...base, amount: 'one' }, {}, 'amount'],
      ['/usage/consume', { ...base, telegramUserId: -5 }, {}, 'telegramUserId'],
      ['/usage/consume', { ...base, idempotencyKey: 'k'.repeat(201) }, {}, 'idempotencyKey'],
      [
        '/usage/consume',
        { telegramUserId: ALICE, amount: 1, reason: 'x' },
        { 'idempotency-key': 'k'.repeat(201) },
        'idempotencyKey',
      ],
      ['/credits/grant', { ...base, amount: -3 }, {}, 'amount'],
      ['/invoices', { telegramUserId: ALICE, productKey: 42 }, {}, 'productKey'],
      ['/payments', { successfulPayment: { currency: 'XTR' }, from: { id: ALICE } }, {}, ''],
    ]
    for (const [path, body, headers, field] of cases) {
      const answer = await rest(path, body, headers)
      expect(answer.status, `${path} ${JSON.stringify(answer.body)}`).toBe(400)
      expect(answer.type).toContain('application/problem+json')
      expect(answer.body).toMatchObject({ status: 400, code: 'BAD_REQUEST' })
      if (field) expect(answer.body.field, JSON.stringify(answer.body)).toBe(field)
      else expect(typeof answer.body.field, JSON.stringify(answer.body)).toBe('string')
    }
    expect(await rowCounts()).toEqual(before)
    await new Promise((r) => setTimeout(r, 2500))
    expect(got.length).toBe(arrived)
  }, 60_000)
})
