import { randomUUID } from 'node:crypto'
import { appRouter, NOT_BOT_FACING, restRoutes } from '@e-stars/api'
import { createApiKey, createProject } from '@e-stars/billing'
import { TRPCClientError } from '@trpc/client'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ALICE, BOB, type Stack, startStack } from '../src/testing.ts'

let stack: Stack
let otherKey: string

beforeAll(async () => {
  stack = await startStack()
  const other = await createProject(stack.db, { name: 'another bot' })
  otherKey = (await createApiKey(stack.db, { projectId: other.id, name: 'other' })).key
})
afterAll(() => stack?.close())

interface Answer {
  status: number
  headers: Headers
  body: Record<string, unknown> & { [key: string]: unknown }
}

/** The parts of `/api/v1/openapi.json` the test reads. */
interface OpenApiJson {
  openapi: string
  info: unknown
  servers: unknown
  components: Record<string, Record<string, unknown>>
  paths: Record<string, Record<string, Record<string, unknown>>>
}

/** One REST call with the stack's key (or another `key`, or none with `key: null`). */
async function call(
  method: 'GET' | 'POST',
  path: string,
  body?: unknown,
  options: { key?: string | null; headers?: Record<string, string>; raw?: string } = {},
): Promise<Answer> {
  const key = options.key === undefined ? stack.apiKey : options.key
  const response = await fetch(`${stack.server.url}/api/v1${path}`, {
    method,
    headers: {
      ...(key ? { authorization: `Bearer ${key}` } : {}),
      ...(body !== undefined || options.raw ? { 'content-type': 'application/json' } : {}),
      ...options.headers,
    },
    body: options.raw ?? (body === undefined ? undefined : JSON.stringify(body)),
  })
  const text = await response.text()
  return { status: response.status, headers: response.headers, body: JSON.parse(text) }
}

const ok = async (method: 'GET' | 'POST', path: string, body?: unknown) => {
  const answer = await call(method, path, body)
  expect(answer.status, `${method} ${path}: ${JSON.stringify(answer.body)}`).toBe(200)
  return answer.body
}

/** A problem+json answer with its status and domain code. */
function expectProblem(answer: Answer, status: number, code: string) {
  expect(answer.status, JSON.stringify(answer.body)).toBe(status)
  expect(answer.headers.get('content-type')).toContain('application/problem+json')
  expect(answer.body).toMatchObject({
    status,
    code,
    type: `urn:e-stars:problem:${code.toLowerCase()}`,
  })
  expect(typeof answer.body.title).toBe('string')
  expect(typeof answer.body.detail).toBe('string')
  expect(JSON.stringify(answer.body)).not.toMatch(/at .*\.ts:\d+/)
}

/** Buys `pack_m` (100 Stars, 1,200 credits) for `user` through REST; returns the charge id. */
async function buyPack(user: number) {
  const invoice = await ok('POST', '/invoices', { telegramUserId: user, productKey: 'pack_m' })
  const from = { id: user, is_bot: false, first_name: 'Buyer' }
  const query = { id: `q-${randomUUID()}`, from, currency: 'XTR', total_amount: 100 }
  const precheck = await ok('POST', '/checkout/precheck', {
    ...query,
    invoice_payload: invoice.payload,
  })
  expect(precheck).toMatchObject({ ok: true })
  const chargeId = `stx-${randomUUID()}`
  const successfulPayment = {
    currency: 'XTR',
    total_amount: 100,
    invoice_payload: invoice.payload,
    telegram_payment_charge_id: chargeId,
  }
  const first = await ok('POST', '/payments', { successfulPayment, from })
  expect(first).toMatchObject({ duplicate: false, credits: 1200 })
  const again = await ok('POST', '/payments', { successfulPayment, from })
  expect(again).toMatchObject({ duplicate: true, paymentId: first.paymentId })
  return chargeId
}

describe('the OpenAPI document', () => {
  it('is OpenAPI 3.1 with a bearer scheme; every operation has an operationId, security and problem errors', async () => {
    const response = await fetch(`${stack.server.url}/api/v1/openapi.json`)
    expect(response.status).toBe(200)
    const document = (await response.json()) as OpenApiJson
    expect(document.openapi).toMatch(/^3\.1\.\d+$/)
    expect(document.info).toMatchObject({ title: expect.any(String), version: expect.any(String) })
    expect(document.servers).toEqual([{ url: '/api/v1' }])
    expect(document.components.securitySchemes?.apiKey).toMatchObject({
      type: 'http',
      scheme: 'bearer',
    })
    const operationIds = new Set<string>()
    for (const [path, item] of Object.entries<Record<string, Record<string, unknown>>>(
      document.paths,
    )) {
      expect(path.startsWith('/')).toBe(true)
      for (const [method, operation] of Object.entries(item)) {
        expect(['get', 'post']).toContain(method)
        expect(operation.operationId, `${method} ${path}`).toEqual(expect.any(String))
        operationIds.add(operation.operationId as string)
        expect(operation.security).toEqual([{ apiKey: [] }])
        const responses = operation.responses as Record<string, { $ref?: string }>
        expect(responses['200']).toBeDefined()
        for (const status of ['400', '401', '409', '412', '503'])
          expect(responses[status]?.$ref).toBe(`#/components/responses/Problem${status}`)
      }
    }
    expect(operationIds.size).toBe(restRoutes().length)
    const consume = document.paths['/usage/consume']?.post as {
      requestBody: { content: Record<string, { example?: unknown }> }
      parameters: { name: string; in: string }[]
    }
    expect(consume.requestBody.content['application/json']?.example).toMatchObject({ amount: 10 })
    expect(consume.parameters).toContainEqual(
      expect.objectContaining({ name: 'Idempotency-Key', in: 'header' }),
    )
    // Every `$ref` points at something the document holds.
    for (const ref of JSON.stringify(document).match(/"#\/components\/[^"]+"/g) ?? []) {
      const [, , group, name] = ref.slice(1, -1).split('/')
      expect(document.components[group!]?.[name!], ref).toBeDefined()
    }
  })

  it('every bot-facing tRPC procedure has a REST route, so a new one cannot be forgotten', () => {
    const routed = new Set(restRoutes().map((route) => route.procedure))
    const botFacing = Object.keys(appRouter._def.procedures).filter(
      (name) => !(NOT_BOT_FACING as readonly string[]).includes(name.split('.')[0]!),
    )
    expect(botFacing.length).toBeGreaterThan(25)
    expect(botFacing.filter((name) => !routed.has(name))).toEqual([])
    // …and nothing the console or the Mini App calls is on REST.
    expect([...routed].filter((name) => !botFacing.includes(name))).toEqual([])
  })
})

describe('REST /api/v1 with an API key', () => {
  it('buys, reads and spends through every customer, credit, usage and ledger route', async () => {
    expect(await ok('GET', '/project')).toEqual({
      projectId: stack.projectId,
      keyId: expect.any(String),
    })
    await ok('POST', '/customers', { telegramUserId: ALICE, firstName: 'Alice' })
    expect(await ok('GET', `/customers/${ALICE}`)).toMatchObject({ telegramUserId: ALICE })
    const chargeId = await buyPack(ALICE)
    expect(await ok('GET', `/customers/${ALICE}/balance`)).toMatchObject({ available: 1200 })

    const consume = {
      telegramUserId: ALICE,
      amount: 200,
      reason: 'AI answer',
      idempotencyKey: 'c-1',
    }
    const spent = await ok('POST', '/usage/consume', consume)
    expect(spent).toMatchObject({ available: 1000 })
    expect(await ok('POST', '/usage/consume', consume)).toEqual(spent)
    // The tRPC client with the same key replays the same act: one set of rules behind both.
    expect(await stack.client.usage.consume.mutate(consume)).toEqual(spent)

    const hold = await ok('POST', '/usage/reserve', {
      ...consume,
      amount: 300,
      idempotencyKey: 'r-1',
    })
    expect(
      await ok('POST', '/usage/settle', {
        holdId: hold.holdId,
        amount: 120,
        idempotencyKey: 's-1',
      }),
    ).toMatchObject({ available: 880 })
    const second = await ok('POST', '/usage/reserve', {
      ...consume,
      amount: 50,
      idempotencyKey: 'r-2',
    })
    expect(
      await ok('POST', '/usage/release', { holdId: second.holdId, idempotencyKey: 'l-1' }),
    ).toMatchObject({ available: 880 })
    await ok('POST', '/credits/grant', {
      telegramUserId: ALICE,
      amount: 20,
      reason: 'welcome',
      source: 'promo',
      idempotencyKey: 'g-1',
    })
    expect(await ok('GET', `/customers/${ALICE}/balance`)).toMatchObject({ available: 900 })

    const ledger = await ok('GET', `/customers/${ALICE}/ledger?limit=3`)
    expect((ledger.entries as unknown[]).length).toBe(3)
    const timeline = await ok('GET', `/customers/${ALICE}/timeline`)
    expect(JSON.stringify(timeline)).toContain('AI answer')
    expect(await ok('GET', `/customers/${ALICE}/entitlements`)).toBeDefined()
    expect(await ok('GET', `/customers/${ALICE}/subscriptions`)).toBeDefined()
    expect(await ok('GET', `/payments/${chargeId}`)).toMatchObject({
      telegramPaymentChargeId: chargeId,
    })
    expect(
      JSON.stringify(await ok('GET', `/payments?telegramUserId=${ALICE}&status=paid`)),
    ).toContain(chargeId)
  })

  it('serves features, access, events, products and reconciliation', async () => {
    expect(JSON.stringify(await ok('GET', '/features'))).toContain('ai.tokens')
    expect(await ok('GET', '/quotas?featureKey=image')).toBeDefined()
    const user = BOB
    await buyPack(user)
    expect(
      await ok('GET', `/access/check?telegramUserId=${user}&feature=image&quantity=2`),
    ).toMatchObject({ allowed: true })
    const used = await ok('POST', '/usage/features/consume', {
      telegramUserId: user,
      feature: 'image',
      quantity: 1,
      idempotencyKey: 'f-1',
    })
    expect(used).toBeDefined()
    const reservation = await ok('POST', '/usage/features/reserve', {
      telegramUserId: user,
      feature: 'ai.tokens',
      quantity: 1000,
      idempotencyKey: 'f-2',
    })
    await ok('POST', '/usage/features/settle', {
      reservationId: reservation.reservationId,
      quantity: 400,
      idempotencyKey: 'f-3',
    })
    const another = await ok('POST', '/usage/features/reserve', {
      telegramUserId: user,
      feature: 'ai.tokens',
      quantity: 100,
      idempotencyKey: 'f-4',
    })
    await ok('POST', '/usage/features/release', {
      reservationId: another.reservationId,
      idempotencyKey: 'f-5',
    })
    expect(await ok('GET', '/events?limit=10')).toHaveProperty('events')
    expect(JSON.stringify(await ok('GET', '/products'))).toContain('pack_m')
    await ok('POST', '/products/apply', { products: [] })
    expect(await ok('POST', '/reconcile/runs')).toBeDefined()
    expect(await ok('GET', '/reconcile/runs?limit=5')).toBeDefined()
    expect(await ok('GET', '/reconcile/findings?unresolved=true')).toBeDefined()
  })

  it('asks Telegram to refund through the bot, records a Telegram-side refund once, and names an unknown subscription', async () => {
    const user = 2_000_003
    // Recorded straight through REST, so the sandbox Telegram never charged it: its refusal
    // comes back as the same typed problem tRPC maps it to, with Telegram's words.
    const unknownToTelegram = await buyPack(user)
    const refund = await call('POST', `/payments/${unknownToTelegram}/refund`, { reason: 'asked' })
    expectProblem(refund, 412, 'TELEGRAM_CALL_FAILED')
    expect(refund.body).toMatchObject({ method: 'refundStarPayment', transient: false })
    expect(await ok('GET', `/customers/${user}/balance`)).toMatchObject({ available: 1200 })
    const recorded = await buyPack(user)
    const refundedPayment = {
      currency: 'XTR',
      total_amount: 100,
      invoice_payload: 'ignored-by-charge-id',
      telegram_payment_charge_id: recorded,
    }
    const from = { id: user, is_bot: false, first_name: 'Carol' }
    const record = await call('POST', '/payments/refunded', { refundedPayment, from })
    expect(record.status, JSON.stringify(record.body)).toBe(200)
    expect(await ok('GET', `/customers/${user}/balance`)).toMatchObject({ available: 1200 })
    expectProblem(await call('POST', `/subscriptions/${randomUUID()}/cancel`, {}), 404, 'NOT_FOUND')
  })
})

describe('REST refusals are problem+json', () => {
  it('a missing or wrong key is 401 with WWW-Authenticate', async () => {
    for (const key of [null, 'esk_not-a-real-key']) {
      const answer = await call('GET', `/customers/${ALICE}/balance`, undefined, { key })
      expectProblem(answer, 401, 'UNAUTHORIZED')
      expect(answer.headers.get('www-authenticate')).toBe('Bearer')
    }
  })

  it('a key the console revokes stops working on REST at once (one key cache with /trpc)', async () => {
    const { key } = await createApiKey(stack.db, {
      projectId: stack.projectId,
      name: 'revoked soon',
    })
    const whoami = await call('GET', '/project', undefined, { key })
    expect(whoami.status).toBe(200)
    const trpc = (path: string, body: unknown, headers: Record<string, string> = {}) =>
      fetch(`${stack.server.url}/trpc/${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: JSON.stringify(body),
      })
    const operator = stack.server.demoOperator!
    const login = await trpc('operator.auth.login', operator)
    expect(login.status).toBe(200)
    const cookie = login.headers.get('set-cookie')!.split(';')[0]!
    const csrf = ((await login.json()) as { result: { data: { csrfToken: string } } }).result.data
      .csrfToken
    const revoked = await trpc(
      'operator.apiKeys.revoke',
      { projectId: stack.projectId, keyId: whoami.body.keyId },
      { cookie, 'x-csrf-token': csrf },
    )
    expect(revoked.status, await revoked.text()).toBe(200)
    expectProblem(await call('GET', '/project', undefined, { key }), 401, 'UNAUTHORIZED')
  })

  it("another project's key does not reach this project's customers, holds or payments", async () => {
    const chargeId = await buyPack(ALICE)
    const hold = await ok('POST', '/usage/reserve', {
      telegramUserId: ALICE,
      amount: 1,
      reason: 'x',
      idempotencyKey: `iso-${randomUUID()}`,
    })
    const foreign = { key: otherKey }
    expectProblem(
      await call(
        'POST',
        '/usage/settle',
        { holdId: hold.holdId, amount: 1, idempotencyKey: 'iso-s' },
        foreign,
      ),
      404,
      'NOT_FOUND',
    )
    expectProblem(await call('GET', `/payments/${chargeId}`, undefined, foreign), 404, 'NOT_FOUND')
    const balance = await call('GET', `/customers/${ALICE}/balance`, undefined, foreign)
    expect(balance.body.available ?? 0).toBe(0)
    await ok('POST', '/usage/release', {
      holdId: hold.holdId,
      idempotencyKey: `iso-r-${randomUUID()}`,
    })
  })

  it('bad input is 400 naming the field: wrong types, NUL bytes, huge numbers, not JSON, not an object', async () => {
    const base = {
      telegramUserId: ALICE,
      amount: 1,
      reason: 'x',
      idempotencyKey: `bad-${randomUUID()}`,
    }
    const cases: [unknown, string][] = [
      [{ ...base, amount: -1 }, 'amount'],
      [{ ...base, amount: 1.5 }, 'amount'],
      [{ ...base, reason: 'a\u0000b' }, 'reason'],
      [{ ...base, idempotencyKey: 'k'.repeat(201) }, 'idempotencyKey'],
      [{ ...base, telegramUserId: '12' }, 'telegramUserId'],
      [[base], 'body'],
    ]
    for (const [body, field] of cases) {
      const answer = await call('POST', '/usage/consume', body)
      expectProblem(answer, 400, 'BAD_REQUEST')
      expect(answer.body.field, JSON.stringify(answer.body)).toBe(field)
    }
    const huge = await call('POST', '/usage/consume', undefined, {
      raw: JSON.stringify(base).replace('"amount":1', '"amount":1e400'),
    })
    expectProblem(huge, 400, 'BAD_REQUEST')
    expect(huge.body.field).toBe('amount')
    const notJson = await call('POST', '/usage/consume', undefined, { raw: '{"amount":' })
    expectProblem(notJson, 400, 'BAD_REQUEST')
    expect(notJson.body.field).toBe('body')
    const query = await call('GET', '/customers/abc/balance')
    expectProblem(query, 400, 'BAD_REQUEST')
    expect(query.body.field).toBe('telegramUserId')
    const tooLarge = await call('POST', '/usage/consume', undefined, {
      raw: JSON.stringify({ ...base, reason: 'x'.repeat(1024 * 1024) }),
    })
    expectProblem(tooLarge, 413, 'PAYLOAD_TOO_LARGE')
    expectProblem(await call('GET', '/nothing-here'), 404, 'NOT_FOUND')
    expectProblem(await call('GET', '/usage/consume'), 405, 'METHOD_NOT_SUPPORTED')
  })

  it('Idempotency-Key replays, answers 409 for another input, and must agree with the field', async () => {
    const key = `hdr-${randomUUID()}`
    const body = { telegramUserId: ALICE, amount: 5, reason: 'header key' }
    const headers = { 'idempotency-key': key }
    const first = await call('POST', '/usage/consume', body, { headers })
    expect(first.status, JSON.stringify(first.body)).toBe(200)
    expect((await call('POST', '/usage/consume', body, { headers })).body).toEqual(first.body)
    expect((await call('POST', '/usage/consume', { ...body, idempotencyKey: key })).body).toEqual(
      first.body,
    )
    const changed = await call('POST', '/usage/consume', { ...body, amount: 6 }, { headers })
    expectProblem(changed, 409, 'IDEMPOTENCY_CONFLICT')
    const disagree = await call(
      'POST',
      '/usage/consume',
      { ...body, idempotencyKey: 'other' },
      { headers },
    )
    expectProblem(disagree, 400, 'BAD_REQUEST')
    expect(disagree.body.field).toBe('idempotencyKey')
    const tooLong = await call('POST', '/usage/consume', body, {
      headers: { 'idempotency-key': 'k'.repeat(201) },
    })
    expectProblem(tooLong, 400, 'BAD_REQUEST')
    expect(tooLong.body.field).toBe('idempotencyKey')
  })

  it('insufficient credits is 412 with available and required', async () => {
    const answer = await call('POST', '/usage/consume', {
      telegramUserId: BOB,
      amount: 1_000_000,
      reason: 'too much',
      idempotencyKey: `big-${randomUUID()}`,
    })
    expectProblem(answer, 412, 'INSUFFICIENT_CREDITS')
    expect(answer.body).toMatchObject({ required: 1_000_000, available: expect.any(Number) })
  })
})

describe('REST and tRPC refuse alike', () => {
  /** What the typed client threw: its code, domain facts and first invalid field. */
  async function trpcRefusal(act: () => Promise<unknown>) {
    const error = await act().then(
      () => null,
      (e: unknown) => e,
    )
    if (!(error instanceof TRPCClientError)) throw new Error(`expected a refusal, got ${error}`)
    const data = error.data as {
      httpStatus: number
      billing: Record<string, unknown> | null
      zodError: { fieldErrors: Record<string, string[]> } | null
    }
    return {
      status: data.httpStatus,
      billing: data.billing,
      field: Object.keys(data.zodError?.fieldErrors ?? {})[0],
    }
  }

  it('the same input gets the same status, domain code, facts and field through both', async () => {
    const key = `parity-${randomUUID()}`
    const user = 2_000_050
    await ok('POST', '/credits/grant', {
      telegramUserId: user,
      amount: 10,
      reason: 'parity',
      idempotencyKey: key,
    })
    const inputs = [
      { telegramUserId: user, amount: -1, reason: 'x', idempotencyKey: key },
      { telegramUserId: user, amount: 999_999_999, reason: 'x', idempotencyKey: `${key}-big` },
    ]
    for (const input of inputs) {
      const viaTrpc = await trpcRefusal(() => stack.client.usage.consume.mutate(input))
      const viaRest = await call('POST', '/usage/consume', input)
      expect(viaTrpc.billing ?? viaTrpc.field).toBeTruthy()
      expect(viaRest.status).toBe(viaTrpc.status)
      if (viaTrpc.billing) expect(viaRest.body).toMatchObject(viaTrpc.billing)
      if (viaTrpc.field) expect(viaRest.body.field).toBe(viaTrpc.field)
    }
    const first = { telegramUserId: user, amount: 1, reason: 'parity', idempotencyKey: `${key}-c` }
    expect((await call('POST', '/usage/consume', first)).status).toBe(200)
    const conflict = await trpcRefusal(() =>
      stack.client.usage.consume.mutate({ ...first, amount: 2 }),
    )
    const viaRest = await call('POST', '/usage/consume', { ...first, amount: 2 })
    expect([viaRest.status, viaRest.body.code]).toEqual([conflict.status, conflict.billing?.code])
  })
})
