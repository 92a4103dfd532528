/**
 * Signed webhooks from two real server processes (`node --import tsx src/main.ts`) on one
 * PostgreSQL database, to a receiver that counts the requests it holds at once per endpoint:
 *
 * - one delivery at a time per endpoint across both processes, in event order, and both processes
 *   do deliver (each request is traced to the process whose socket sent it, from /proc);
 * - the process holding a delivery is SIGKILLed mid-request: the other one sends it again once
 *   the lease lapses, with the same `webhook-id`, then the events behind it, in order;
 * - the last process is SIGKILLed right after a change committed (a consume through REST that
 *   writes balance.low): a new process delivers the event.
 *
 * PostgreSQL only (two processes cannot share PGlite); CI sets TEST_DATABASE_URL.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { existsSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs'
import { createServer, type IncomingHttpHeaders } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import {
  configureAccess,
  createApiKey,
  createProject,
  createSecrets,
  createWebhookEndpoint,
  listWebhookDeliveries,
  verifyWebhook,
} from '@e-stars/billing'
import { type Database, openDatabase } from '@e-stars/db'
import { sql } from 'drizzle-orm'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createEmptyDatabase } from './spawn-server.ts'

const baseUrl = process.env.TEST_DATABASE_URL || null
const haveProc = existsSync('/proc/net/tcp')
if (!baseUrl)
  console.warn('webhooks-replicas skipped: it needs PostgreSQL (TEST_DATABASE_URL); CI sets it')

const serverDir = fileURLToPath(new URL('..', import.meta.url))
const LEASE_MS = 3000
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** One server process, the real entry point: its pid is the process that opens the sockets. */
function startProcess(env: Record<string, string>) {
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: serverDir,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let out = ''
  child.stdout!.setEncoding('utf8').on('data', (c: string) => {
    out += c
  })
  child.stderr!.setEncoding('utf8').on('data', (c: string) => {
    out += c
  })
  const exited = new Promise<void>((r) => child.once('exit', () => r()))
  const up = new Promise<void>((resolve, reject) => {
    const look = () => {
      if (/e-Stars is up: /.test(out)) resolve()
    }
    child.stdout!.on('data', look)
    void exited.then(() => reject(new Error(`server exited before it was up:\n${out}`)))
  })
  up.catch(() => {})
  return {
    pid: child.pid!,
    up,
    url: () => /e-Stars is up: (http:\/\/\S+)/.exec(out)?.[1] ?? '',
    output: () => out,
    kill: async () => {
      child.kill('SIGKILL')
      await exited
    },
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return
      child.kill('SIGTERM')
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000)
      await exited
      clearTimeout(timer)
    },
  }
}
type Proc = ReturnType<typeof startProcess>

/**
 * Which of `pids` owns the client side of a loopback TCP connection from `port` (Linux): the
 * socket's inode from /proc/net/tcp, then the process whose file descriptors hold it.
 */
function ownerOf(port: number, pids: number[]): number | null {
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0')
  let inode: string | null = null
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    if (!existsSync(file)) continue
    for (const line of readFileSync(file, 'utf8').split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/)
      if (fields[1]?.endsWith(`:${hexPort}`) && fields[9] && fields[9] !== '0') inode = fields[9]
    }
  }
  if (!inode) return null
  for (const pid of pids) {
    try {
      for (const fd of readdirSync(`/proc/${pid}/fd`))
        if (readlinkSync(`/proc/${pid}/fd/${fd}`) === `socket:[${inode}]`) return pid
    } catch {
      // gone
    }
  }
  return null
}

interface Arrival {
  path: string
  eventId: number
  webhookId: string
  pid: number | null
  at: number
  headers: IncomingHttpHeaders
  body: string
}

/** Holds each request 20–80 ms; counts, per path, how many it holds at once. */
function receiver(pids: () => number[]) {
  const arrivals: Arrival[] = []
  const inFlight = new Map<string, number>()
  const maxInFlight = new Map<string, number>()
  let overall = 0
  let maxOverall = 0
  let hangNext: string | null = null
  let hung: ((arrival: Arrival) => void) | null = null
  const server = createServer((req, res) => {
    const path = req.url ?? ''
    const pid = ownerOf(req.socket.remotePort ?? 0, pids())
    const now = (inFlight.get(path) ?? 0) + 1
    inFlight.set(path, now)
    maxInFlight.set(path, Math.max(maxInFlight.get(path) ?? 0, now))
    overall++
    maxOverall = Math.max(maxOverall, overall)
    let done = false
    const finish = () => {
      if (done) return
      done = true
      inFlight.set(path, (inFlight.get(path) ?? 1) - 1)
      overall--
    }
    res.on('close', finish)
    let body = ''
    req.setEncoding('utf8').on('data', (c: string) => {
      body += c
    })
    req.on('end', () => {
      const arrival: Arrival = {
        path,
        eventId: Number(String(req.headers['webhook-id']).replace('evt_', '')),
        webhookId: String(req.headers['webhook-id']),
        pid,
        at: Date.now(),
        headers: req.headers,
        body,
      }
      arrivals.push(arrival)
      if (hangNext === path) {
        // Never answered: its sender is killed while it waits.
        hangNext = null
        arrival.pid ??= ownerOf(req.socket.remotePort ?? 0, pids())
        hung?.(arrival)
        return
      }
      setTimeout(
        () => {
          finish()
          res.writeHead(200).end()
        },
        20 + Math.floor(Math.random() * 60),
      )
    })
  })
  return {
    arrivals,
    maxInFlight,
    maxOverall: () => maxOverall,
    inFlight: (path: string) => inFlight.get(path) ?? 0,
    /** The next request to `path` is held, never answered; resolves when it arrives. */
    hangNextTo(path: string) {
      hangNext = path
      return new Promise<Arrival>((resolve) => {
        hung = resolve
      })
    },
    async start() {
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
      return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
    },
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections()
        server.close(() => r())
      }),
  }
}

async function until(what: string, check: () => boolean | Promise<boolean>, ms = 60_000) {
  const end = Date.now() + ms
  while (Date.now() < end) {
    if (await check()) return
    await sleep(50)
  }
  throw new Error(`timed out waiting for ${what}`)
}

describe.skipIf(!baseUrl || !haveProc)('webhooks from two server processes', () => {
  let target: Awaited<ReturnType<typeof createEmptyDatabase>>
  let database: Database
  const procs: Proc[] = []
  const dataDirs: string[] = []
  const hook = receiver(() => procs.map((p) => p.pid))
  const key = randomBytes(32).toString('base64')

  /** Each process polls on its own period, so neither one's phase always comes first. */
  const start = (intervalMs: number) => {
    const dataDir = mkdtempSync(join(tmpdir(), 'estars-wh-'))
    dataDirs.push(dataDir)
    const proc = startProcess({
      DATABASE_URL: target.url,
      SECRET_KEY: key,
      PORT: '0',
      HOST: '127.0.0.1',
      DATA_DIR: dataDir,
      SANDBOX: 'off',
      DEMO_DATA: 'off',
      RECONCILE_INTERVAL_SECONDS: '0',
      ALLOW_PRIVATE_TARGETS: 'on',
      WEBHOOK_LEASE_MS: String(LEASE_MS),
      WEBHOOK_INTERVAL_MS: String(intervalMs),
      LOG_LEVEL: 'warn',
    })
    procs.push(proc)
    return proc
  }

  beforeAll(async () => {
    target = await createEmptyDatabase(baseUrl!)
    database = await openDatabase({ url: target.url, poolSize: 2 })
  }, 60_000)

  afterAll(async () => {
    await Promise.all(procs.map((p) => p.stop()))
    await hook.close()
    await database?.close()
    await target?.drop()
    for (const dir of dataDirs) rmSync(dir, { recursive: true, force: true })
  })

  it('one delivery at a time per endpoint, in event order; a process killed mid-delivery loses nothing', async () => {
    const base = await hook.start()
    const secrets = createSecrets(key)
    const project = await createProject(database.db, { name: 'Two replicas' })
    const endpoints = await Promise.all(
      ['/a', '/b'].map((path) =>
        createWebhookEndpoint(database.db, {
          projectId: project.id,
          url: `${base}${path}`,
          eventTypes: [],
          secrets,
        }),
      ),
    )
    const [one, two] = [start(1000), start(300)]
    await Promise.all([one!.up, two!.up])
    const emit = async (n: number) => {
      const [row] = (await database.db.execute(
        sql`insert into events (project_id, customer_id, type, payload)
            values (${project.id}, null, 'balance.low', ${JSON.stringify({ n })}::jsonb)
            returning id`,
      )) as unknown as Array<{ id: string }>
      return Number(row!.id)
    }

    // 1. Sixty events over about six seconds; both processes' jobs pick them up as they come.
    // Which process wins each claim is up to the scheduler: on a busy machine one may win the
    // first sixty, so events keep coming (up to 200) until both have delivered.
    // (A lookup can miss, racing the kernel's table: those few stay unattributed.)
    const sendersNow = () => new Set(hook.arrivals.map((a) => a.pid).filter((pid) => pid !== null))
    const emitted: number[] = []
    for (let n = 0; n < 60 || (sendersNow().size < 2 && n < 200); n++) {
      emitted.push(await emit(n))
      await sleep(100)
    }
    await until('every event at both endpoints', () => hook.arrivals.length >= 2 * emitted.length)
    for (const path of ['/a', '/b']) {
      const got = hook.arrivals.filter((a) => a.path === path)
      expect(got.map((a) => a.eventId)).toEqual(emitted)
      expect(hook.maxInFlight.get(path)).toBe(1)
    }
    // Both processes delivered (the serial order is not one process doing everything).
    expect(sendersNow()).toEqual(new Set([one!.pid, two!.pid]))
    expect(hook.arrivals.filter((a) => a.pid === null).length).toBeLessThan(emitted.length / 5)
    for (const [i, path] of ['/a', '/b'].entries())
      for (const a of hook.arrivals.filter((x) => x.path === path).slice(0, 5))
        expect(verifyWebhook(endpoints[i]!.secret, a.headers, a.body)).toBe(true)

    // 2. The next delivery to /a is held; its sender is SIGKILLed mid-request.
    const held = hook.hangNextTo('/a')
    const heldEvent = await emit(100)
    const hungArrival = await held
    expect(hungArrival.eventId).toBe(heldEvent)
    const killed = procs.find((p) => p.pid === hungArrival.pid)!
    const survivor = procs.find((p) => p.pid !== hungArrival.pid && p !== killed)!
    expect(killed).toBeDefined()
    expect(survivor).toBeDefined()
    await killed.kill()
    await until('the held request to close', () => hook.inFlight('/a') === 0, 5000)
    const behind = [await emit(101), await emit(102)]
    await until('the retry and the events behind it', () => {
      const a = hook.arrivals.filter((x) => x.path === '/a' && x.eventId >= heldEvent)
      return a.length >= 4
    })
    const after = hook.arrivals.filter((x) => x.path === '/a' && x.eventId >= heldEvent)
    expect(after.map((x) => x.eventId)).toEqual([heldEvent, heldEvent, ...behind])
    // The retry: the same webhook-id, from the other process, after the lease lapsed.
    expect(after[1]!.webhookId).toBe(hungArrival.webhookId)
    expect(after[1]!.pid).toBe(survivor.pid)
    expect(after[1]!.at - hungArrival.at).toBeGreaterThanOrEqual(LEASE_MS - 500)
    expect(verifyWebhook(endpoints[0]!.secret, after[1]!.headers, after[1]!.body)).toBe(true)
    expect(hook.maxInFlight.get('/a')).toBe(1)
    // /b never waited for /a's held delivery: it got all three meanwhile.
    await until('/b to get them too', () =>
      hook.arrivals.some((x) => x.path === '/b' && x.eventId === behind[1]),
    )
    // (The killed process may have been mid-request to /b too: then /b sees that one twice, in
    // a row, with the same webhook-id — at least once, never out of order.)
    const atB = hook.arrivals
      .filter((x) => x.path === '/b' && x.eventId >= heldEvent)
      .map((x) => x.eventId)
    expect(atB.filter((id, i) => id !== atB[i - 1])).toEqual([heldEvent, ...behind])
    expect(hook.maxInFlight.get('/b')).toBe(1)
    const logOfA = () =>
      listWebhookDeliveries(database.db, {
        projectId: project.id,
        endpointId: endpoints[0]!.endpoint.id,
        limit: 200,
      })
    // The last answer is marked a moment after the receiver sent it.
    await until('every delivery to /a marked delivered', async () =>
      (await logOfA()).every((d) => d.status === 'delivered'),
    )
    const log = await logOfA()
    expect(log).toHaveLength(63)
    expect(log.find((d) => d.eventId === heldEvent)!.attempts).toBe(2)
    const retryAfterKill = after[1]!.at - hungArrival.at

    // 3. Killed between the change and the delivery: a consume through REST writes balance.low
    // in its own transaction; the process is SIGKILLed the moment it has answered, and is then the
    // only one: nothing runs until a new process starts, which delivers it.
    await configureAccess(database.db, { projectId: project.id, lowBalanceThreshold: 50 })
    const { key: apiKey } = await createApiKey(database.db, { projectId: project.id, name: 'bot' })
    const call = (path: string, body: unknown) =>
      fetch(`${survivor.url()}/api/v1${path}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      })
    const user = { telegramUserId: 7_000_001, reason: 'replicas' }
    expect(
      (await call('/credits/grant', { ...user, amount: 100, idempotencyKey: 'wh-grant' })).status,
    ).toBe(200)
    const consumed = await call('/usage/consume', { ...user, amount: 60, idempotencyKey: 'wh-use' })
    await survivor.kill()
    expect(consumed.status, await consumed.text()).toBe(200)
    const [low] = (await database.db.execute(
      sql`select id from events where project_id = ${project.id} and type = 'balance.low'
          and payload ? 'available'`,
    )) as unknown as Array<{ id: string }>
    const lowEvent = Number(low!.id)
    const beforeRestart = hook.arrivals.filter((a) => a.eventId === lowEvent).length
    const fresh = start(300)
    await fresh.up
    await until('balance.low at both endpoints after the restart', () =>
      ['/a', '/b'].every((path) =>
        hook.arrivals.some((a) => a.path === path && a.eventId === lowEvent),
      ),
    )
    for (const path of ['/a', '/b']) {
      const ids = hook.arrivals
        .filter((x) => x.path === path && x.eventId >= heldEvent)
        .map((x) => x.eventId)
      expect(ids.filter((id, i) => id !== ids[i - 1])).toEqual([heldEvent, ...behind, lowEvent])
      expect(hook.maxInFlight.get(path)).toBe(1)
    }
    const lowAtA = hook.arrivals.find((a) => a.path === '/a' && a.eventId === lowEvent)!
    expect(JSON.parse(lowAtA.body)).toMatchObject({ type: 'balance.low', data: { available: 40 } })
    expect(verifyWebhook(endpoints[0]!.secret, lowAtA.headers, lowAtA.body)).toBe(true)
    console.info(
      `webhooks-replicas: ${hook.arrivals.length} requests, max in flight per endpoint 1, ` +
        `overall ${hook.maxOverall()}; retry after the kill ${retryAfterKill} ms; ` +
        `balance.low delivered ${beforeRestart} time(s) before the kill, then by the new process`,
    )
  }, 180_000)
})
