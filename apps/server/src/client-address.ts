import type { IncomingHttpHeaders } from 'node:http'
import ipaddr from 'ipaddr.js'

/**
 * Who is calling, as far as the trusted proxies say (`TRUST_PROXY`, mapped onto Express's
 * `trust proxy`). Every per-IP limit, the cookie's Secure flag and every loopback check read
 * these functions, never `X-Forwarded-*` or `req.socket` directly: a header from an untrusted
 * peer is anyone's words.
 */

/** What Express's `trust proxy` takes: off, a hop count, or proxy addresses/subnets. */
export type TrustProxy = false | number | string[]

/**
 * `off` → false; `1` → one hop (one load balancer); `10.0.0.1, 10.1.0.0/16` → those proxies
 * (`loopback`, `linklocal`, `uniquelocal` are proxy-addr's names for ranges).
 */
export function parseTrustProxy(value: string): TrustProxy {
  const text = value.trim().toLowerCase()
  if (text === '' || text === 'off' || text === 'false' || text === '0') return false
  if (/^\d+$/.test(text)) return Number(text)
  return text
    .split(',')
    .map((part) => part.trim())
    .filter(Boolean)
}

/** Whether `value` is a valid TRUST_PROXY; the reason when it is not. */
export function trustProxyProblem(value: string): string | null {
  const parsed = parseTrustProxy(value)
  if (parsed === false || typeof parsed === 'number') return null
  for (const entry of parsed) {
    if (['loopback', 'linklocal', 'uniquelocal'].includes(entry)) continue
    const [address, bits, extra] = entry.split('/')
    if (extra !== undefined || !address || !ipaddr.isValid(address))
      return `${entry} is not an address or subnet`
    if (bits !== undefined) {
      const max = ipaddr.parse(address).kind() === 'ipv4' ? 32 : 128
      if (!/^\d+$/.test(bits) || Number(bits) > max) return `${entry} has a bad prefix length`
    }
  }
  return null
}

/** The part of an Express request these functions read (tests pass plain objects too). */
export interface AddressedRequest {
  headers: IncomingHttpHeaders
  /** Express: the client address after the trusted proxies. */
  ip?: string | undefined
  /** Express: `https` when the socket is TLS or a trusted proxy says so. */
  protocol?: string | undefined
  socket?: { remoteAddress?: string | undefined; encrypted?: boolean } | undefined
}

/** `::ffff:127.0.0.1` → `127.0.0.1`, so one client has one spelling in the limiter's keys. */
export function normalizeAddress(address: string | undefined | null): string | null {
  if (!address) return null
  try {
    const parsed = ipaddr.parse(address)
    if (parsed.kind() === 'ipv6' && (parsed as ipaddr.IPv6).isIPv4MappedAddress())
      return (parsed as ipaddr.IPv6).toIPv4Address().toString()
    return parsed.toString()
  } catch {
    return null
  }
}

/** The client's address: Express's `req.ip` (trusted proxies applied), else the socket's peer. */
export function clientAddress(req: AddressedRequest): string | null {
  return normalizeAddress(req.ip ?? req.socket?.remoteAddress)
}

/** `https` only when the socket is TLS or a trusted proxy says so; a forged header is ignored. */
export function requestIsHttps(req: AddressedRequest): boolean {
  if (req.protocol !== undefined) return req.protocol === 'https'
  return Boolean(req.socket?.encrypted)
}

function isLoopbackAddress(address: string | null | undefined): boolean {
  const normalized = normalizeAddress(address?.trim())
  return normalized !== null && ipaddr.parse(normalized).range() === 'loopback'
}

/** Every address a proxy chain wrote, trusted or not (`X-Forwarded-For`, `X-Real-IP`). */
function forwardedAddresses(headers: IncomingHttpHeaders): string[] {
  const values = [headers['x-forwarded-for'], headers['x-real-ip']].flat()
  return values.flatMap((value) => (value ? value.split(',').map((part) => part.trim()) : []))
}

/**
 * A caller on this machine: the client address (after trusted proxies) is loopback, and so is
 * every hop any proxy reported. So a reverse proxy on this host forwarding a remote client is
 * never "loopback", even with TRUST_PROXY off (its peer address is 127.0.0.1, but it names the
 * client in `X-Forwarded-For`); a `Forwarded` header, which these checks do not parse, refuses.
 */
export function isLoopbackRequest(req: AddressedRequest): boolean {
  if (!isLoopbackAddress(clientAddress(req))) return false
  if (!isLoopbackAddress(req.socket?.remoteAddress)) return false
  if (req.headers.forwarded !== undefined) return false
  return forwardedAddresses(req.headers).every(isLoopbackAddress)
}
