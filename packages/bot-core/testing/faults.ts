import { createServer, type IncomingMessage, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'

export type ProxyMode = 'pass' | 'hang'

/**
 * An HTTP proxy in front of the server that can fail (502) or hang on demand, and counts the
 * tRPC procedures it saw, to show what an adapter does when e-Stars misbehaves.
 */
export async function startFaultyProxy(target: string) {
  let mode: ProxyMode = 'pass'
  const failures = new Map<string, number>()
  const calls: string[] = []
  const hanging = new Set<IncomingMessage>()
  const server: Server = createServer(async (req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname
    const procedures = path.replace(/^\/trpc\//, '').split(',')
    calls.push(...procedures)
    const chunks: Buffer[] = []
    for await (const chunk of req) chunks.push(chunk as Buffer)
    if (mode === 'hang') {
      hanging.add(req)
      return
    }
    const failing = procedures.find((p) => (failures.get(p) ?? 0) > 0)
    if (failing) {
      failures.set(failing, (failures.get(failing) ?? 0) - 1)
      res.writeHead(502, { 'content-type': 'text/plain' }).end('Bad gateway')
      return
    }
    const response = await fetch(new URL(req.url ?? '/', target), {
      method: req.method ?? 'GET',
      headers: Object.fromEntries(
        Object.entries(req.headers).filter(
          (e): e is [string, string] => typeof e[1] === 'string' && e[0] !== 'host',
        ),
      ),
      ...(req.method === 'GET' || req.method === 'HEAD' ? {} : { body: Buffer.concat(chunks) }),
    })
    res.writeHead(response.status, { 'content-type': response.headers.get('content-type') ?? '' })
    res.end(Buffer.from(await response.arrayBuffer()))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    calls,
    set(next: ProxyMode) {
      mode = next
    },
    /** The next `count` requests calling `procedure` get a 502. */
    fail(procedure: string, count = Number.POSITIVE_INFINITY) {
      failures.set(procedure, count)
    },
    async close() {
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}

/** A URL where nothing listens: e-Stars is down. */
export async function closedPortUrl() {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return `http://127.0.0.1:${port}`
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** Polls `check` until it holds (state outside the sandbox: logs, the database). */
export async function eventually(check: () => boolean | Promise<boolean>, timeoutMs = 5000) {
  const until = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > until) throw new Error('condition not met in time')
    await sleep(20)
  }
}
