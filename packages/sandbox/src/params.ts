import type { IncomingMessage } from 'node:http'
import { BotApiError, badRequest } from './errors.ts'

/** A file sent as a multipart/form-data part. */
export interface UploadedFile {
  readonly kind: 'upload'
  readonly filename: string | undefined
  readonly contentType: string | undefined
  readonly data: Buffer
}

export type RawParams = Record<string, unknown>

const MAX_BODY_BYTES = 60 * 1024 * 1024

export async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of req) {
    const buf = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer)
    size += buf.length
    if (size > MAX_BODY_BYTES) throw new BotApiError(413, 'Request Entity Too Large')
    chunks.push(buf)
  }
  return Buffer.concat(chunks)
}

/**
 * Collects a Bot API call's parameters the way Telegram does: query string first, then the
 * body (JSON, urlencoded or multipart) on top.
 */
export async function readBotApiParams(req: IncomingMessage, url: URL): Promise<RawParams> {
  const params: RawParams = Object.fromEntries(url.searchParams)
  const body = await readBody(req)
  if (body.length === 0) return params
  const contentType = req.headers['content-type'] ?? ''
  if (contentType.includes('application/json')) {
    let parsed: unknown
    try {
      parsed = JSON.parse(body.toString('utf8'))
    } catch {
      throw badRequest("can't parse JSON object")
    }
    if (!isRecord(parsed)) throw badRequest("can't parse JSON object")
    Object.assign(params, parsed)
  } else if (contentType.includes('multipart/form-data')) {
    const boundary = /boundary=(?:"([^"]+)"|([^;]+))/i.exec(contentType)
    const value = boundary?.[1] ?? boundary?.[2]
    if (!value) throw badRequest('multipart boundary is missing')
    Object.assign(params, parseMultipart(body, value))
  } else {
    Object.assign(params, Object.fromEntries(new URLSearchParams(body.toString('utf8'))))
  }
  return params
}

export function parseMultipart(body: Buffer, boundary: string): RawParams {
  const out: RawParams = {}
  const delimiter = Buffer.from(`--${boundary}`)
  let pos = body.indexOf(delimiter)
  while (pos !== -1) {
    const partStart = pos + delimiter.length
    if (body.subarray(partStart, partStart + 2).toString() === '--') break
    const next = body.indexOf(delimiter, partStart)
    if (next === -1) break
    // A part is "\r\n<headers>\r\n\r\n<data>\r\n" between two delimiters.
    const part = body.subarray(partStart + 2, next - 2)
    const headerEnd = part.indexOf('\r\n\r\n')
    if (headerEnd !== -1) {
      const headers = part.subarray(0, headerEnd).toString('utf8')
      const data = part.subarray(headerEnd + 4)
      const name = /name="([^"]*)"/i.exec(headers)?.[1]
      const filename = /filename="([^"]*)"/i.exec(headers)?.[1]
      const contentType = /content-type:\s*([^\r\n]+)/i.exec(headers)?.[1]?.trim()
      if (name !== undefined) {
        out[name] =
          filename !== undefined
            ? ({
                kind: 'upload',
                filename,
                contentType,
                data: Buffer.from(data),
              } satisfies UploadedFile)
            : data.toString('utf8')
      }
    }
    pos = next
  }
  return out
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

export function isUpload(value: unknown): value is UploadedFile {
  return isRecord(value) && value.kind === 'upload' && Buffer.isBuffer(value.data)
}

/**
 * Typed, Telegram-tolerant access to a call's parameters: numbers may arrive as strings,
 * booleans as "true"/"1", objects as JSON strings (Telegraf's reply_markup in multipart).
 */
export class Params {
  readonly raw: RawParams

  constructor(raw: RawParams) {
    this.raw = raw
  }

  /** Present and not empty, as Telegram treats "" the same as a missing parameter. */
  has(name: string): boolean {
    const value = this.raw[name]
    return value !== undefined && value !== null && value !== ''
  }

  string(name: string): string | undefined {
    const value = this.raw[name]
    if (value === undefined || value === null) return undefined
    if (typeof value === 'string') return value
    if (typeof value === 'number' || typeof value === 'boolean') return String(value)
    throw badRequest(`parameter "${name}" must be a String`)
  }

  requireString(name: string, missing = `parameter "${name}" is required`): string {
    const value = this.string(name)
    if (value === undefined || value === '') throw badRequest(missing)
    return value
  }

  integer(name: string): number | undefined {
    const value = this.raw[name]
    if (value === undefined || value === null || value === '') return undefined
    const n = typeof value === 'string' && /^\s*-?\d+\s*$/.test(value) ? Number(value) : value
    if (typeof n !== 'number' || !Number.isSafeInteger(n)) {
      throw badRequest(`parameter "${name}" must be an Integer`)
    }
    return n
  }

  requireInteger(name: string, missing = `parameter "${name}" is required`): number {
    const value = this.integer(name)
    if (value === undefined) throw badRequest(missing)
    return value
  }

  boolean(name: string): boolean | undefined {
    const value = this.raw[name]
    if (value === undefined || value === null || value === '') return undefined
    if (value === true || value === 'true' || value === '1' || value === 1) return true
    if (value === false || value === 'false' || value === '0' || value === 0) return false
    throw badRequest(`parameter "${name}" must be a Boolean`)
  }

  requireBoolean(name: string): boolean {
    const value = this.boolean(name)
    if (value === undefined) throw badRequest(`parameter "${name}" is required`)
    return value
  }

  /** A JSON-serialised parameter (object or array), accepted either parsed or as a string. */
  json(name: string): unknown {
    const value = this.raw[name]
    if (value === undefined || value === null || value === '') return undefined
    if (typeof value !== 'string') return value
    try {
      return JSON.parse(value)
    } catch {
      throw badRequest(`can't parse ${name} JSON object`)
    }
  }

  stringArray(name: string): string[] | undefined {
    const value = this.json(name)
    if (value === undefined) return undefined
    if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) {
      throw badRequest(`can't parse ${name} JSON array`)
    }
    return value
  }
}
