/**
 * The one door for every request this server makes to a URL a tenant chose (the relay's forwards
 * now, webhooks later). A tenant's URL must never reach the server's own network: the target's
 * addresses are checked when the URL is read and again by the socket's own lookup, so the
 * address connected to is the address checked (DNS rebinding cannot pass); redirects are never
 * followed; the time and the answer read are bounded; and failures reach the tenant in coarse
 * words only, so a tenant cannot map ports or statuses. The detail goes to the server log.
 */
import { promises as dns, type LookupAddress } from 'node:dns'
import { type ClientRequest, request as httpRequest, type IncomingMessage } from 'node:http'
import { request as httpsRequest } from 'node:https'
import { isIP, type LookupFunction } from 'node:net'
import { networkInterfaces } from 'node:os'
import type { Logger } from '@e-stars/api'
import ipaddr from 'ipaddr.js'
import { sandboxWanted } from './demo.ts'
import type { Env } from './env.ts'

/** What a tenant reads about a failed request: classes, never a port, a status or an errno. */
export const OUTBOUND_FAILURES = {
  notHttp: 'the target is not an http(s) URL',
  notPublic: 'the target is not a public address',
  ownServer: 'the target is this e-Stars server',
  unreachable: 'the target refused or could not be reached',
  redirect: 'the target answered a redirect',
  clientError: 'the target answered HTTP 4xx',
  serverError: 'the target answered HTTP 5xx',
  unexpected: 'the target answered an unexpected status',
} as const

export type OutboundFailure = (typeof OUTBOUND_FAILURES)[keyof typeof OUTBOUND_FAILURES]

export type OutboundResult =
  /** A 2xx. `body` is null when the answer was longer than `maxResponseBytes` (not read further). */
  | { delivered: true; status: number; body: string | null }
  | { delivered: false; error: OutboundFailure }

export interface OutboundPost {
  headers?: Record<string, string>
  body: string
  /** The whole request, from resolving the name to the last byte read. */
  timeoutMs?: number
  maxResponseBytes?: number
  /** Aborting rejects the call with the signal's reason (a shutdown, not a failed delivery). */
  signal?: AbortSignal
  /** Facts for the log line of a failure (project id, update id); never a secret. */
  log?: Record<string, unknown>
}

/** Resolves a name to every address it has (the tests inject one that lies). */
export type Resolver = (hostname: string) => Promise<LookupAddress[]>

export interface OutboundOptions {
  /** Loopback, private, link-local… targets too (demo mode and tests only). */
  allowPrivate: boolean
  /**
   * The ports this server (and its demo sandbox) listens on: refused on any local address even
   * when private targets are allowed, so a tenant's URL never reaches a loopback-only route.
   */
  ownPorts: () => readonly number[]
  logger: Logger
  resolve?: Resolver
}

export interface Outbound {
  post(url: string, request: OutboundPost): Promise<OutboundResult>
}

const DEFAULT_TIMEOUT_MS = 10_000
const DEFAULT_MAX_RESPONSE_BYTES = 64 * 1024

/** `ALLOW_PRIVATE_TARGETS`: `on`/`off` force it; `auto` allows them only in demo mode (the sandbox). */
export function privateTargetsAllowed(env: Env): boolean {
  if (env.ALLOW_PRIVATE_TARGETS === 'on') return true
  if (env.ALLOW_PRIVATE_TARGETS === 'off') return false
  return sandboxWanted(env)
}

/**
 * What a tenant's URL must never reach even where private targets are allowed: this server's
 * port (null until it listens) and the demo sandbox's, whose control API trusts its caller.
 */
export function ownPortsOf(env: Env, listeningPort: number | null): number[] {
  const ports = [env.PORT, listeningPort ?? env.PORT]
  if (env.SANDBOX_URL) {
    const sandbox = new URL(env.SANDBOX_URL)
    ports.push(Number(sandbox.port || (sandbox.protocol === 'https:' ? 443 : 80)))
  }
  return ports.filter((port) => port !== 0)
}

/**
 * The range an address belongs to, `unicast` meaning public. An IPv6 address that carries an IPv4
 * one (mapped `::ffff:a.b.c.d`, compatible `::a.b.c.d`, NAT64 `64:ff9b::/96`, 6to4 `2002::/16`)
 * is judged by the IPv4 address it reaches.
 */
export function addressRange(address: string): string {
  if (!ipaddr.isValid(address)) return 'invalid'
  const parsed = ipaddr.parse(address)
  if (parsed.kind() === 'ipv4') return parsed.range()
  const v6 = parsed as ipaddr.IPv6
  const embedded = embeddedIPv4(v6)
  return embedded ? embedded.range() : v6.range()
}

function embeddedIPv4(v6: ipaddr.IPv6): ipaddr.IPv4 | null {
  const p = v6.parts
  const fromWords = (high: number, low: number) =>
    new ipaddr.IPv4([high >> 8, high & 0xff, low >> 8, low & 0xff])
  if (v6.isIPv4MappedAddress()) return v6.toIPv4Address()
  if (p.slice(0, 6).every((word) => word === 0)) return fromWords(p[6]!, p[7]!)
  if (p[0] === 0x64 && p[1] === 0xff9b && p.slice(2, 6).every((word) => word === 0))
    return fromWords(p[6]!, p[7]!)
  if (p[0] === 0x2002) return fromWords(p[1]!, p[2]!)
  return null
}

export const isPublicAddress = (address: string) => addressRange(address) === 'unicast'

/** A URL's host without the brackets of an IPv6 literal. */
const bareHost = (url: URL) => url.hostname.replace(/^\[(.*)\]$/, '$1')

/** A URL's host as an address when it is one (WHATWG URL already wrote 0x7f.1 as 127.0.0.1). */
function literalAddress(url: URL): string | null {
  const host = bareHost(url)
  return isIP(host) ? host : null
}

/**
 * Why a target may not be stored, or null: not http(s), or a literal address that is not public
 * (unless private targets are allowed). Names are judged when a request is made.
 */
export function targetRefusal(target: URL, options: { allowPrivate: boolean }): string | null {
  if (target.protocol !== 'http:' && target.protocol !== 'https:') return 'must be an http(s) URL'
  const literal = literalAddress(target)
  if (literal && !options.allowPrivate && !isPublicAddress(literal))
    return 'must be a public address: loopback, private, link-local and reserved ones are refused'
  return null
}

/** Refused before a socket exists; `detail` is for the log only. */
class TargetRefused extends Error {
  constructor(
    readonly failure: OutboundFailure,
    readonly detail: string,
  ) {
    super(detail)
  }
}

const systemResolver: Resolver = (hostname) => dns.lookup(hostname, { all: true, verbatim: true })

function machineAddresses(): Set<string> {
  const found = new Set<string>()
  for (const list of Object.values(networkInterfaces()))
    for (const entry of list ?? []) found.add(ipaddr.process(entry.address).toString())
  return found
}

export function createOutbound(options: OutboundOptions): Outbound {
  const resolve = options.resolve ?? systemResolver

  function refusal(address: string, port: number): TargetRefused | null {
    const range = addressRange(address)
    const local = range !== 'unicast'
    if (local && !options.allowPrivate)
      return new TargetRefused(OUTBOUND_FAILURES.notPublic, `${address} is ${range}`)
    const own =
      options.ownPorts().includes(port) &&
      (local || machineAddresses().has(ipaddr.process(address).toString()))
    if (own)
      return new TargetRefused(OUTBOUND_FAILURES.ownServer, `${address}:${port} is this server`)
    return null
  }

  /** Every address of the name must pass: one bad answer refuses the whole name. */
  async function checkedAddresses(hostname: string, port: number): Promise<LookupAddress[]> {
    const addresses = await resolve(hostname)
    if (addresses.length === 0) throw new Error(`${hostname} has no address`)
    for (const { address } of addresses) {
      const refused = refusal(address, port)
      if (refused) throw refused
    }
    return addresses
  }

  /** The socket's own lookup: the address it connects to is one this check passed. */
  function connectLookup(port: number): LookupFunction {
    return (hostname, lookupOptions, callback) => {
      checkedAddresses(hostname, port).then(
        (addresses) => {
          const family = lookupOptions.family === 4 || lookupOptions.family === 6
          const usable = family
            ? addresses.filter((a) => a.family === lookupOptions.family)
            : addresses
          const [first] = usable
          if (!first) callback(new Error(`${hostname} has no usable address`), '', 0)
          else if (lookupOptions.all) callback(null, usable)
          else callback(null, first.address, first.family)
        },
        (error: Error) => callback(error, '', 0),
      )
    }
  }

  async function post(target: string, request: OutboundPost): Promise<OutboundResult> {
    const failed = (failure: OutboundFailure, detail: string): OutboundResult => {
      options.logger.warn(
        { ...request.log, target: origin(target), detail },
        `outbound: ${failure}`,
      )
      return { delivered: false, error: failure }
    }
    let url: URL
    try {
      url = new URL(target)
    } catch {
      return failed(OUTBOUND_FAILURES.notHttp, 'not a URL')
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:')
      return failed(OUTBOUND_FAILURES.notHttp, url.protocol)
    const port = Number(url.port || (url.protocol === 'https:' ? 443 : 80))
    const deadline = AbortSignal.timeout(request.timeoutMs ?? DEFAULT_TIMEOUT_MS)
    const signal = request.signal ? AbortSignal.any([request.signal, deadline]) : deadline
    try {
      const literal = literalAddress(url)
      if (literal) {
        const refused = refusal(literal, port)
        if (refused) throw refused
      } else {
        await withSignal(checkedAddresses(url.hostname, port), signal)
      }
      const answer = await send(url, port, request, signal)
      if (answer.status >= 200 && answer.status < 300)
        return { delivered: true, status: answer.status, body: answer.body }
      return failed(statusFailure(answer.status), `HTTP ${answer.status}`)
    } catch (error) {
      if (request.signal?.aborted) throw request.signal.reason
      if (error instanceof TargetRefused) return failed(error.failure, error.detail)
      const detail = deadline.aborted ? 'timed out' : describeFailure(error)
      return failed(OUTBOUND_FAILURES.unreachable, detail)
    }
  }

  function send(
    url: URL,
    port: number,
    request: OutboundPost,
    signal: AbortSignal,
  ): Promise<{ status: number; body: string | null }> {
    const maxBytes = request.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES
    return new Promise((resolvePromise, reject) => {
      const body = Buffer.from(request.body)
      const req: ClientRequest = (url.protocol === 'https:' ? httpsRequest : httpRequest)({
        method: 'POST',
        host: bareHost(url),
        port,
        path: `${url.pathname}${url.search}`,
        headers: { ...request.headers, 'content-length': String(body.length) },
        lookup: connectLookup(port),
        // A fresh socket per request: nothing pooled outlives the checks made for it.
        agent: false,
        signal,
      })
      req.once('error', reject)
      req.once('response', (res: IncomingMessage) => {
        const status = res.statusCode ?? 0
        // Only a 2xx is read: a redirect's Location or an error page is never looked at.
        if (status < 200 || status >= 300) {
          req.destroy()
          resolvePromise({ status, body: null })
          return
        }
        readBounded(res, maxBytes).then((text) => {
          if (text === null) req.destroy()
          resolvePromise({ status, body: text })
        }, reject)
      })
      req.end(body)
    })
  }

  return { post }
}

/** The answer's text, or null once it passes `maxBytes` (the rest is never read). */
function readBounded(res: IncomingMessage, maxBytes: number): Promise<string | null> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    res.on('data', (chunk: Buffer) => {
      size += chunk.length
      if (size > maxBytes) {
        res.destroy()
        resolve(null)
        return
      }
      chunks.push(chunk)
    })
    res.once('end', () => resolve(Buffer.concat(chunks).toString('utf8')))
    res.once('error', reject)
    // Cut short (the deadline, a reset): no partial answer passes for a whole one.
    res.once('close', () => {
      if (!res.complete) reject(new Error('the answer was cut short'))
    })
  })
}

function statusFailure(status: number): OutboundFailure {
  if (status >= 300 && status < 400) return OUTBOUND_FAILURES.redirect
  if (status >= 400 && status < 500) return OUTBOUND_FAILURES.clientError
  if (status >= 500 && status < 600) return OUTBOUND_FAILURES.serverError
  return OUTBOUND_FAILURES.unexpected
}

function withSignal<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason)
  return new Promise((resolve, reject) => {
    const abort = () => reject(signal.reason)
    signal.addEventListener('abort', abort, { once: true })
    work.then(resolve, reject).finally(() => signal.removeEventListener('abort', abort))
  })
}

/** Scheme, host and port only: a path or query may carry a tenant's own secret. */
function origin(target: string): string {
  try {
    return new URL(target).origin
  } catch {
    return 'not a URL'
  }
}

function describeFailure(error: unknown): string {
  const code = (error as NodeJS.ErrnoException | undefined)?.code
  const message = error instanceof Error ? error.message : String(error)
  return code ? `${code}: ${message}` : message
}
