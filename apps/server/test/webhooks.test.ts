import { randomBytes } from 'node:crypto'
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import {
  createProject,
  createSecrets,
  createWebhookEndpoint,
  listAuditLog,
  listWebhookDeliveries,
  listWebhookEndpoints,
  resendWebhookDelivery,
  rotateWebhookSecret,
  verifyWebhook,
  WEBHOOK_RETRY_DELAYS_SECONDS,
  WEBHOOK_SECRET_OVERLAP_SECONDS,
} from '@e-stars/billing'
import type { Database } from '@e-stars/db'
import { createTestDatabase } from '@e-stars/db/testing'
import { sql } from 'drizzle-orm'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { createOutbound, targetRefusal } from '../src/outbound.ts'
import { createWebhookDispatcher } from '../src/webhooks.ts'

const silent = { info() {}, warn() {}, error() {} }
const secrets = createSecrets(randomBytes(32).toString('base64'))
const loopbackAllowed = (url: URL) => targetRefusal(url, { allowPrivate: true })

/** A receiver on loopback: keeps every request; answers `status` (changeable: "down", "up"). */
function receiver() {
  const got: Array<{ headers: IncomingHttpHeaders; body: string }> = []
  let status = 200
  const server: Server = createServer((req, res) => {
    let body = ''
    req.on('data', (chunk) => {
      body += chunk
    })
    req.on('end', () => {
      got.push({ headers: req.headers, body })
      res.writeHead(status).end()
    })
  })
  return {
    got,
    answer(code: number) {
      status = code
    },
    async start() {
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
      return `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks`
    },
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections()
        server.close(() => r())
      }),
  }
}

let database: Database
const hook = receiver()
let hookUrl: string
const dispatcher = () =>
  createWebhookDispatcher(database.db, silent, {
    secrets,
    outbound: createOutbound({ allowPrivate: true, ownPorts: () => [], logger: silent }),
  })

async function emit(projectId: string, type: string, payload: Record<string, unknown>) {
  await database.db.execute(
    sql`insert into events (project_id, customer_id, type, payload)
        values (${projectId}, null, ${type}, ${JSON.stringify(payload)}::jsonb)`,
  )
}

beforeAll(async () => {
  database = await createTestDatabase()
  hookUrl = await hook.start()
}, 120_000)

afterAll(async () => {
  await hook.close()
  await database?.close()
})

beforeEach(() => {
  hook.got.length = 0
  hook.answer(200)
})

describe('signed webhooks from the outbox', () => {
  it('delivers new events signed over id, timestamp and body; a tampered body fails', async () => {
    const project = await createProject(database.db, { name: 'Signed' })
    await emit(project.id, 'payment.succeeded', { before: true })
    const { endpoint, secret } = await createWebhookEndpoint(database.db, {
      projectId: project.id,
      url: hookUrl,
      eventTypes: ['payment.succeeded', 'payment.refunded'],
      secrets,
      targetRule: loopbackAllowed,
    })
    expect(secret).toMatch(/^whsec_/)
    await emit(project.id, 'payment.succeeded', { chargeId: 'c-1', stars: 50 })
    await emit(project.id, 'balance.low', { available: 3 })
    await emit(project.id, 'payment.refunded', { chargeId: 'c-1' })
    const result = await dispatcher().runOnce()
    expect(result).toMatchObject({ queued: 2, sent: 2, failed: 0 })
    // Only what it subscribed to, from its creation on, in order.
    expect(hook.got.map((r) => JSON.parse(r.body).type)).toEqual([
      'payment.succeeded',
      'payment.refunded',
    ])
    const [first] = hook.got
    expect(JSON.parse(first!.body)).toMatchObject({
      type: 'payment.succeeded',
      data: { chargeId: 'c-1', stars: 50 },
    })
    expect(first!.headers['webhook-id']).toBe(JSON.parse(first!.body).id)
    expect(verifyWebhook(secret, first!.headers, first!.body)).toBe(true)
    expect(verifyWebhook(secret, first!.headers, first!.body.replace('50', '5000'))).toBe(false)
    expect(
      verifyWebhook(`whsec_${randomBytes(24).toString('base64')}`, first!.headers, first!.body),
    ).toBe(false)
    // A capture replayed an hour later is refused by the timestamp check.
    expect(
      verifyWebhook(secret, first!.headers, first!.body, {
        now: new Date(Date.now() + 3_600_000),
      }),
    ).toBe(false)
    const log = await listWebhookDeliveries(database.db, {
      projectId: project.id,
      endpointId: endpoint.id,
    })
    expect(log.map((d) => [d.eventType, d.status, d.lastStatusCode])).toEqual([
      ['payment.refunded', 'delivered', 200],
      ['payment.succeeded', 'delivered', 200],
    ])
    // Nothing new: nothing sent twice.
    expect(await dispatcher().runOnce()).toMatchObject({ queued: 0, sent: 0 })
  })

  it('a receiver that is down gets the event later, with the same webhook-id', async () => {
    const project = await createProject(database.db, { name: 'Down' })
    const { endpoint, secret } = await createWebhookEndpoint(database.db, {
      projectId: project.id,
      url: hookUrl,
      eventTypes: [],
      secrets,
      targetRule: loopbackAllowed,
    })
    await emit(project.id, 'quota.exhausted', { featureKey: 'chat' })
    await emit(project.id, 'balance.low', { available: 1 })
    hook.answer(503)
    const jobs = dispatcher()
    // One failing attempt; the endpoint's second event waits behind it, not counted as tried.
    expect(await jobs.runOnce()).toMatchObject({ queued: 2, sent: 0, failed: 1 })
    expect(hook.got).toHaveLength(1)
    let log = await listWebhookDeliveries(database.db, {
      projectId: project.id,
      endpointId: endpoint.id,
    })
    const failed = log.find((d) => d.attempts === 1)!
    expect(failed).toMatchObject({
      status: 'pending',
      lastError: 'the target answered HTTP 5xx',
    })
    expect(failed.nextAttemptAt.getTime()).toBeGreaterThan(Date.now())
    // Not yet due: nothing is sent before the backoff.
    hook.answer(200)
    const later = new Date(Date.now() + (WEBHOOK_RETRY_DELAYS_SECONDS[0] + 1) * 1000)
    expect(await jobs.runOnce(later)).toMatchObject({ sent: 2, failed: 0 })
    expect(hook.got).toHaveLength(3)
    const ids = hook.got.map((r) => r.headers['webhook-id'])
    expect(ids[0]).toBe(ids[1])
    expect(new Set(ids).size).toBe(2)
    for (const r of hook.got) expect(verifyWebhook(secret, r.headers, r.body)).toBe(true)
    log = await listWebhookDeliveries(database.db, {
      projectId: project.id,
      endpointId: endpoint.id,
    })
    expect(log.every((d) => d.status === 'delivered')).toBe(true)

    // Send again: the same event, the same id, once more.
    await resendWebhookDelivery(database.db, { projectId: project.id, deliveryId: failed.id })
    expect(await jobs.runOnce()).toMatchObject({ sent: 1 })
    expect(hook.got.at(-1)!.headers['webhook-id']).toBe(ids[0])
  })

  it('gives up after the schedule (more than a day) and disables the endpoint', async () => {
    const project = await createProject(database.db, { name: 'Gone' })
    const { endpoint } = await createWebhookEndpoint(database.db, {
      projectId: project.id,
      url: hookUrl,
      eventTypes: [],
      secrets,
      targetRule: loopbackAllowed,
    })
    await emit(project.id, 'balance.low', { available: 0 })
    hook.answer(500)
    const jobs = dispatcher()
    let at = Date.now()
    await jobs.runOnce(new Date(at))
    for (const delay of WEBHOOK_RETRY_DELAYS_SECONDS) {
      at += (delay + 1) * 1000
      await jobs.runOnce(new Date(at))
    }
    expect(at - Date.now()).toBeGreaterThan(24 * 3_600_000)
    expect(hook.got).toHaveLength(WEBHOOK_RETRY_DELAYS_SECONDS.length + 1)
    const [delivery] = await listWebhookDeliveries(database.db, {
      projectId: project.id,
      endpointId: endpoint.id,
    })
    expect(delivery).toMatchObject({ status: 'failed', attempts: 8 })
    const [stored] = await listWebhookEndpoints(database.db, project.id)
    expect(stored!.disabledAt).not.toBeNull()
    // The operator is told: an audit row, in the console's audit log.
    const audit = await listAuditLog(database.db, { projectId: project.id })
    expect(audit.entries.map((e) => [e.actor, e.action, e.target])).toEqual([
      ['system', 'webhook.auto_disable', `webhook:${endpoint.id}`],
    ])
    expect(audit.entries[0]!.after).toMatchObject({
      url: hookUrl,
      attempts: 8,
      lastError: 'the target answered HTTP 5xx',
    })
    // Disabled: nothing more is queued or sent.
    await emit(project.id, 'balance.low', { available: 0 })
    expect(await jobs.runOnce(new Date(at + 3_600_000))).toMatchObject({ queued: 0, sent: 0 })
  })

  it('a rotated secret: both sign during the overlap, then only the new one', async () => {
    const project = await createProject(database.db, { name: 'Rotated' })
    const { endpoint, secret: old } = await createWebhookEndpoint(database.db, {
      projectId: project.id,
      url: hookUrl,
      eventTypes: [],
      secrets,
      targetRule: loopbackAllowed,
    })
    const jobs = dispatcher()
    const rotatedAt = new Date()
    const rotated = await rotateWebhookSecret(database.db, {
      projectId: project.id,
      endpointId: endpoint.id,
      secrets,
      now: rotatedAt,
    })
    expect(rotated.secret).toMatch(/^whsec_/)
    expect(rotated.secret).not.toBe(old)
    expect(rotated.previousSecretUntil.getTime() - rotatedAt.getTime()).toBe(
      WEBHOOK_SECRET_OVERLAP_SECONDS * 1000,
    )
    expect(WEBHOOK_SECRET_OVERLAP_SECONDS).toBe(24 * 3600)
    // The list says an overlap runs (with the server's secrets), never a secret.
    const [listed] = await listWebhookEndpoints(database.db, project.id, { secrets })
    expect(listed!.previousSecretUntil).toEqual(rotated.previousSecretUntil)
    expect(JSON.stringify(listed)).not.toContain(rotated.secret.slice(6))
    expect(JSON.stringify(listed)).not.toContain(old.slice(6))

    // During the overlap (an hour later): two v1 signatures; the old secret alone verifies.
    await emit(project.id, 'balance.low', { during: true })
    expect(await jobs.runOnce(new Date(rotatedAt.getTime() + 3_600_000))).toMatchObject({
      sent: 1,
    })
    const during = hook.got.at(-1)!
    expect(String(during.headers['webhook-signature']).split(' ')).toHaveLength(2)
    expect(verifyWebhook(old, during.headers, during.body)).toBe(true)
    expect(verifyWebhook(rotated.secret, during.headers, during.body)).toBe(true)

    // After it (25 h later): only the new secret signs; a receiver still on the old one refuses.
    const after = new Date(rotatedAt.getTime() + 25 * 3_600_000)
    await emit(project.id, 'balance.low', { after: true })
    expect(await jobs.runOnce(after)).toMatchObject({ sent: 1 })
    const late = hook.got.at(-1)!
    expect(JSON.parse(late.body).data).toEqual({ after: true })
    expect(String(late.headers['webhook-signature']).split(' ')).toHaveLength(1)
    expect(verifyWebhook(old, late.headers, late.body)).toBe(false)
    expect(verifyWebhook(rotated.secret, late.headers, late.body)).toBe(true)
    const [ended] = await listWebhookEndpoints(database.db, project.id, { secrets, now: after })
    expect(ended!.previousSecretUntil).toBeNull()

    // Rotating again during an overlap: the secret being replaced is the one that keeps signing.
    const first = await rotateWebhookSecret(database.db, {
      projectId: project.id,
      endpointId: endpoint.id,
      secrets,
    })
    const second = await rotateWebhookSecret(database.db, {
      projectId: project.id,
      endpointId: endpoint.id,
      secrets,
    })
    await emit(project.id, 'balance.low', { twice: true })
    expect(await jobs.runOnce()).toMatchObject({ sent: 1 })
    const twice = hook.got.at(-1)!
    expect(verifyWebhook(second.secret, twice.headers, twice.body)).toBe(true)
    expect(verifyWebhook(first.secret, twice.headers, twice.body)).toBe(true)
    expect(verifyWebhook(rotated.secret, twice.headers, twice.body)).toBe(false)
    await expect(
      rotateWebhookSecret(database.db, {
        projectId: project.id,
        endpointId: crypto.randomUUID(),
        secrets,
      }),
    ).rejects.toMatchObject({ code: 'NOT_FOUND' })
  })

  it('refuses a private address unless allowed, and bad input naming the field', async () => {
    const project = await createProject(database.db, { name: 'Guarded' })
    const strict = (url: URL) => targetRefusal(url, { allowPrivate: false })
    const create = (url: string, eventTypes: string[] = [], targetRule = strict) =>
      createWebhookEndpoint(database.db, {
        projectId: project.id,
        url,
        eventTypes,
        secrets,
        targetRule,
      })
    await expect(create('http://127.0.0.1:9/hook')).rejects.toMatchObject({
      code: 'INVALID_INPUT',
      field: 'url',
    })
    await expect(create('http://10.0.0.1/hook')).rejects.toMatchObject({ field: 'url' })
    await expect(create('ftp://example.com/hook')).rejects.toMatchObject({ field: 'url' })
    await expect(create(`https://example.com/${'a'.repeat(2048)}`)).rejects.toMatchObject({
      field: 'url',
    })
    await expect(create('https://example.com/hook', ['payment.exploded'])).rejects.toMatchObject({
      field: 'eventTypes',
    })
    // Plain http to a public name: refused unless private targets are allowed (demo, tests).
    await expect(create('http://hooks.example.com/hook')).rejects.toMatchObject({
      code: 'INVALID_INPUT',
      field: 'url',
      message: expect.stringMatching(/https/),
    })
    await expect(create('https://user:pw@hooks.example.com/hook')).rejects.toMatchObject({
      field: 'url',
    })
    expect(await listWebhookEndpoints(database.db, project.id)).toEqual([])
    // Exactly 2,048 characters is allowed, and http where private targets are allowed.
    const longest = `https://hooks.example.com/${'a'.repeat(2048 - 'https://hooks.example.com/'.length)}`
    expect(longest).toHaveLength(2048)
    await create(longest)
    await create('http://hooks.example.com/hook', [], loopbackAllowed)
    expect(await listWebhookEndpoints(database.db, project.id)).toHaveLength(2)
  })

  it('a receiver that redirects or answers slowly fails the attempt: no redirect followed, a timeout', async () => {
    const project = await createProject(database.db, { name: 'Evasive' })
    const elsewhere = receiver()
    const elsewhereUrl = await elsewhere.start()
    const redirector = createServer((req, res) => {
      req.resume()
      res.writeHead(302, { location: elsewhereUrl }).end()
    })
    const slow = createServer((req) => {
      req.resume() // and never answer
    })
    const listen = async (server: Server) => {
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
      return `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks`
    }
    try {
      const redirecting = await createWebhookEndpoint(database.db, {
        projectId: project.id,
        url: await listen(redirector),
        eventTypes: [],
        secrets,
        targetRule: loopbackAllowed,
      })
      const hanging = await createWebhookEndpoint(database.db, {
        projectId: project.id,
        url: await listen(slow),
        eventTypes: [],
        secrets,
        targetRule: loopbackAllowed,
      })
      await emit(project.id, 'balance.low', { available: 1 })
      const timeouts: Array<number | undefined> = []
      const real = createOutbound({ allowPrivate: true, ownPorts: () => [], logger: silent })
      const jobs = (timeoutMs?: number) =>
        createWebhookDispatcher(database.db, silent, {
          secrets,
          ...(timeoutMs ? { timeoutMs } : {}),
          outbound: {
            post: (url, request) => {
              timeouts.push(request.timeoutMs)
              // The default's check does not wait the 10 s out: it only reads the bound asked for.
              return timeoutMs
                ? real.post(url, request)
                : Promise.resolve({ delivered: false, error: 'the target answered HTTP 5xx' })
            },
          },
        })
      const started = Date.now()
      expect(await jobs(300).runOnce()).toMatchObject({ queued: 2, sent: 0, failed: 2 })
      expect(Date.now() - started).toBeLessThan(5000)
      expect(timeouts).toEqual([300, 300])
      expect(elsewhere.got).toEqual([])
      const [redirected] = await listWebhookDeliveries(database.db, {
        projectId: project.id,
        endpointId: redirecting.endpoint.id,
      })
      expect(redirected).toMatchObject({
        status: 'pending',
        lastError: 'the target answered a redirect',
      })
      const [timedOut] = await listWebhookDeliveries(database.db, {
        projectId: project.id,
        endpointId: hanging.endpoint.id,
      })
      expect(timedOut!.status).toBe('pending')
      expect(timedOut!.lastError).toMatch(/^the target/)
      // By default each attempt has 10 s (the lease, 60 s, outlasts it).
      timeouts.length = 0
      await jobs().runOnce(new Date(Date.now() + 10 * 60_000))
      expect(timeouts).toEqual([10_000, 10_000])
    } finally {
      redirector.closeAllConnections()
      slow.closeAllConnections()
      await Promise.all([
        elsewhere.close(),
        new Promise((r) => redirector.close(r)),
        new Promise((r) => slow.close(r)),
      ])
    }
  }, 30_000)

  it('the outbound guard refuses a stored name that resolves to a private address', async () => {
    const project = await createProject(database.db, { name: 'Rebound' })
    await createWebhookEndpoint(database.db, {
      projectId: project.id,
      url: 'https://hooks.example.com/in',
      eventTypes: [],
      secrets,
      targetRule: (url) => targetRefusal(url, { allowPrivate: false }),
    })
    await emit(project.id, 'balance.low', { available: 0 })
    const jobs = createWebhookDispatcher(database.db, silent, {
      secrets,
      outbound: createOutbound({
        allowPrivate: false,
        ownPorts: () => [],
        logger: silent,
        resolve: async () => [{ address: '127.0.0.1', family: 4 }],
      }),
    })
    expect(await jobs.runOnce()).toMatchObject({ sent: 0, failed: 1 })
    const [endpoint] = await listWebhookEndpoints(database.db, project.id)
    const [delivery] = await listWebhookDeliveries(database.db, {
      projectId: project.id,
      endpointId: endpoint!.id,
    })
    expect(delivery!.lastError).toBe('the target is not a public address')
  })

  it("one project's events never reach another project's endpoint", async () => {
    const mine = await createProject(database.db, { name: 'Mine' })
    const theirs = await createProject(database.db, { name: 'Theirs' })
    const { endpoint } = await createWebhookEndpoint(database.db, {
      projectId: mine.id,
      url: hookUrl,
      eventTypes: [],
      secrets,
      targetRule: loopbackAllowed,
    })
    await emit(theirs.id, 'balance.low', { secretOfTheirs: true })
    await emit(mine.id, 'balance.low', { mine: true })
    await dispatcher().runOnce()
    expect(hook.got.map((r) => JSON.parse(r.body).data)).toEqual([{ mine: true }])
    // Their project cannot read or resend my deliveries.
    expect(
      await listWebhookDeliveries(database.db, { projectId: theirs.id, endpointId: endpoint.id }),
    ).toEqual([])
    const [mineDelivery] = await listWebhookDeliveries(database.db, {
      projectId: mine.id,
      endpointId: endpoint.id,
    })
    await expect(
      resendWebhookDelivery(database.db, { projectId: theirs.id, deliveryId: mineDelivery!.id }),
    ).rejects.toMatchObject({ code: 'NOT_FOUND' })
  })
})

describe('the server runs the webhook job', () => {
  it('an event written while the server runs reaches the endpoint, signed, without a call', async () => {
    const { parseEnv } = await import('../src/env.ts')
    const { startServer } = await import('../src/server.ts')
    const own = receiver()
    const url = await own.start()
    const key = randomBytes(32).toString('base64')
    const server = await startServer(
      parseEnv({
        PORT: '0',
        SECRET_KEY: key,
        RECONCILE_INTERVAL_SECONDS: '0',
        ALLOW_PRIVATE_TARGETS: 'on',
      }),
      silent,
      { database: { ...database, close: async () => {} } },
    )
    try {
      const project = await createProject(database.db, { name: 'Live' })
      const { secret } = await createWebhookEndpoint(database.db, {
        projectId: project.id,
        url,
        eventTypes: ['balance.low'],
        secrets: createSecrets(key),
        targetRule: loopbackAllowed,
      })
      await emit(project.id, 'balance.low', { available: 2 })
      const until = Date.now() + 60_000
      while (own.got.length === 0 && Date.now() < until)
        await new Promise((r) => setTimeout(r, 100))
      expect(own.got).toHaveLength(1)
      expect(verifyWebhook(secret, own.got[0]!.headers, own.got[0]!.body)).toBe(true)
      expect(JSON.parse(own.got[0]!.body)).toMatchObject({
        type: 'balance.low',
        data: { available: 2 },
      })
    } finally {
      await server.close()
      await own.close()
    }
  })
})
