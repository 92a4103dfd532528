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

/** Name → value, the first occurrence of a name winning (as the Bot API server looks them up). */
function firstWins(entries: Iterable<[string, unknown]>, into: RawParams = {}): RawParams {
  for (const [name, value] of entries) if (!(name in into)) into[name] = value
  return into
}

/**
 * Collects a Bot API call's parameters the way Telegram does: the query string first, then the
 * body (JSON, urlencoded or multipart); a name given twice keeps its first value, so the query
 * string wins over the body.
 */
export async function readBotApiParams(req: IncomingMessage, url: URL): Promise<RawParams> {
  const params = firstWins(url.searchParams)
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
    if (!isRecord(parsed)) throw badRequest('JSON object expected')
    firstWins(Object.entries(parsed), params)
  } else if (contentType.includes('multipart/form-data')) {
    const boundary = /boundary=(?:"([^"]+)"|([^;]+))/i.exec(contentType)
    const value = boundary?.[1] ?? boundary?.[2]
    if (!value) throw badRequest('multipart boundary is missing')
    firstWins(Object.entries(parseMultipart(body, value)), params)
  } else {
    firstWins(new URLSearchParams(body.toString('utf8')), params)
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
      // A name sent twice keeps its first part, as the Bot API server reads it.
      if (name !== undefined && !(name in out)) {
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
 * What Telegram's HTTP layer hands a method: every parameter as text. A JSON body's string
 * stays as it is; any other JSON value (number, boolean, object, array, null) arrives as its
 * JSON text, exactly as the Bot API server's parser keeps it. Uploads stay files.
 */
function asText(value: unknown): string | UploadedFile | undefined {
  if (value === undefined) return undefined
  if (typeof value === 'string') return value
  if (isUpload(value)) return value
  return JSON.stringify(value)
}

/**
 * `td::to_integer`: an optional minus and the leading digits; anything else ends the number,
 * and no digits at all is 0. So "12" and 12 are 12, "12abc" is 12, "abc", "true" and "" are 0.
 */
export function tdInteger(text: string): number {
  const match = /^(-?)(\d*)/.exec(text)
  const digits = match?.[2] ?? ''
  if (digits === '') return 0
  const n = Number(digits.slice(0, 18))
  return match?.[1] === '-' ? -n : n
}

/** `to_bool`: "true", "yes" or "1", in any case and trimmed; anything else is false. */
export function tdBoolean(text: string): boolean {
  const value = text.trim().toLowerCase()
  return value === 'true' || value === 'yes' || value === '1'
}

/**
 * A call's parameters read the way the Bot API server reads them: integers and booleans as
 * leniently as Telegram (numbers or their text; "true"/"false"/"1"/"0"; JSON booleans), JSON
 * objects either parsed or as their text (Telegraf sends reply_markup as text in multipart), and
 * an empty parameter the same as a missing one.
 */
export class Params {
  readonly raw: RawParams
  readonly #text = new Map<string, string | UploadedFile>()

  constructor(raw: RawParams) {
    this.raw = raw
    for (const [name, value] of Object.entries(raw)) {
      // null is read as absent (the server would see the text "null"; no client means it).
      const text = value === null ? undefined : asText(value)
      if (text !== undefined) this.#text.set(name, text)
    }
  }

  /** Present and not empty, as Telegram treats "" the same as a missing parameter. */
  has(name: string): boolean {
    const value = this.#text.get(name)
    return value !== undefined && value !== ''
  }

  /** The parameter's text; undefined when absent (or a file upload). */
  string(name: string): string | undefined {
    const value = this.#text.get(name)
    return typeof value === 'string' ? value : undefined
  }

  requireString(name: string, missing = `parameter "${name}" is required`): string {
    const value = this.string(name)
    if (value === undefined || value === '') throw badRequest(missing)
    return value
  }

  /** `get_integer_arg`: undefined when absent or empty, else Telegram's lenient reading. */
  integer(name: string): number | undefined {
    const value = this.string(name)
    return value === undefined || value === '' ? undefined : tdInteger(value)
  }

  /** `get_user_id`: a positive identifier, else "Invalid <name> specified". */
  userId(name = 'user_id'): number {
    const id = Math.max(tdInteger(this.string(name) ?? ''), 0)
    if (id === 0) throw badRequest(`invalid ${name} specified`)
    return id
  }

  /** `to_bool`: undefined when absent or empty, else true for "true"/"yes"/"1" only. */
  boolean(name: string): boolean | undefined {
    const value = this.string(name)
    return value === undefined || value === '' ? undefined : tdBoolean(value)
  }

  /**
   * A JSON-serialised parameter (object or array), given parsed or as text; text that is not
   * JSON is refused as Telegram words it for the parameter ("can't parse <what> JSON object").
   */
  json(name: string, what: string = name): unknown {
    const value = this.string(name)
    if (value === undefined || value === '') return undefined
    try {
      return JSON.parse(value)
    } catch {
      throw badRequest(`can't parse ${what} JSON object`)
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

/**
 * A field of an object inside a JSON parameter, checked as td's JsonObject does: integers as
 * JSON numbers or numeric strings, booleans only as JSON booleans, strings only as strings.
 */
export const jsonField = {
  integer(object: Record<string, unknown>, name: string): number | undefined {
    const value = object[name]
    if (value === undefined || value === null) return undefined
    if (typeof value === 'number' || typeof value === 'string') {
      const n = Number(value)
      if (String(value).trim() === '' || !Number.isSafeInteger(n)) {
        throw new Error(`Field "${name}" must be a valid Number`)
      }
      return n
    }
    throw new Error(`Field "${name}" must be a Number`)
  },
  requireInteger(object: Record<string, unknown>, name: string): number {
    const value = jsonField.integer(object, name)
    if (value === undefined) throw new Error(`Can't find field "${name}"`)
    return value
  },
  boolean(object: Record<string, unknown>, name: string): boolean | undefined {
    const value = object[name]
    if (value === undefined || value === null) return undefined
    if (typeof value === 'boolean') return value
    throw new Error(`Field "${name}" must be of type Boolean`)
  },
  string(object: Record<string, unknown>, name: string): string | undefined {
    const value = object[name]
    if (value === undefined || value === null) return undefined
    if (typeof value === 'string') return value
    if (typeof value === 'number') return String(value)
    throw new Error(`Field "${name}" must be of type String`)
  },
  requireString(object: Record<string, unknown>, name: string): string {
    const value = jsonField.string(object, name)
    if (value === undefined) throw new Error(`Can't find field "${name}"`)
    return value
  },
}

/** Telegram's way of quoting a td error in a description: the first letter lowercased. */
export function tdMessage(message: string): string {
  if (message.length >= 2 && /[_A-Z]/.test(message[1] ?? '')) return message
  return `${message.charAt(0).toLowerCase()}${message.slice(1)}`
}
