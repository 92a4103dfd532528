/**
 * Inputs for the procedure fuzz: a seeded generator that reads each procedure's own input schema
 * (zod → JSON Schema), plausible values drawn from what the server already handed out, and
 * hostile values substituted into any field.
 */
import type { AnyTRPCRouter } from '@trpc/server'
import { z } from 'zod'

/** sfc32: small, fast and seedable, so a failing run replays from its seed. */
export class Rng {
  #a: number
  #b: number
  #c: number
  #d: number
  constructor(seed: number) {
    this.#a = 0x9e3779b9
    this.#b = 0x243f6a88
    this.#c = 0xb7e15162
    this.#d = seed >>> 0
    for (let i = 0; i < 16; i++) this.next()
  }
  /** In [0, 1). */
  next(): number {
    const t = (((this.#a + this.#b) | 0) + this.#d) | 0
    this.#d = (this.#d + 1) | 0
    this.#a = this.#b ^ (this.#b >>> 9)
    this.#b = (this.#c + (this.#c << 3)) | 0
    this.#c = (this.#c << 21) | (this.#c >>> 11)
    this.#c = (this.#c + t) | 0
    return (t >>> 0) / 4_294_967_296
  }
  /** An integer in [lo, hi], both safe. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1))
  }
  chance(p: number): boolean {
    return this.next() < p
  }
  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)]!
  }
  uuid(): string {
    const hex = (n: number) =>
      Array.from({ length: n }, () => this.int(0, 15).toString(16)).join('')
    return `${hex(8)}-${hex(4)}-4${hex(3)}-${this.pick(['8', '9', 'a', 'b'])}${hex(3)}-${hex(12)}`
  }
}

/** A JSON literal sent as written: `-0`, `1e999`, `9223372036854775808`, a 5,000-deep array. */
export class RawJson {
  constructor(readonly text: string) {}
}

/** JSON.stringify that writes `RawJson` as is (no recursion limit concerns: values are shallow). */
export function toJson(value: unknown): string {
  if (value instanceof RawJson) return value.text
  if (Array.isArray(value))
    return `[${value.map((v) => (v === undefined ? 'null' : toJson(v))).join(',')}]`
  if (value !== null && typeof value === 'object') {
    const parts: string[] = []
    for (const [k, v] of Object.entries(value))
      if (v !== undefined) parts.push(`${JSON.stringify(k)}:${toJson(v)}`)
    return `{${parts.join(',')}}`
  }
  return JSON.stringify(value) ?? 'null'
}

export interface JsonSchema {
  type?: string | string[]
  properties?: Record<string, JsonSchema>
  required?: string[]
  additionalProperties?: JsonSchema | boolean
  propertyNames?: JsonSchema
  items?: JsonSchema
  anyOf?: JsonSchema[]
  oneOf?: JsonSchema[]
  allOf?: JsonSchema[]
  enum?: unknown[]
  const?: unknown
  default?: unknown
  format?: string
  pattern?: string
  minLength?: number
  maxLength?: number
  minimum?: number
  maximum?: number
  exclusiveMinimum?: number
  exclusiveMaximum?: number
}

export interface Procedure {
  path: string
  type: 'query' | 'mutation'
  /** The merged input schema; null when the procedure takes no input. */
  schema: JsonSchema | null
}

/** Every query and mutation of `router`, with its input as JSON Schema (all `.input()`s merged). */
export function proceduresOf(router: AnyTRPCRouter): Procedure[] {
  const record = router._def.procedures as Record<
    string,
    { _def: { type: string; inputs: z.ZodType[] } }
  >
  return Object.entries(record)
    .filter(([, p]) => p._def.type === 'query' || p._def.type === 'mutation')
    .map(([path, p]) => {
      const parts = p._def.inputs.map(
        (input) => z.toJSONSchema(input, { io: 'input', unrepresentable: 'any' }) as JsonSchema,
      )
      return { path, type: p._def.type as 'query' | 'mutation', schema: merge(parts) }
    })
}

function merge(parts: JsonSchema[]): JsonSchema | null {
  if (parts.length === 0) return null
  if (parts.length === 1) return parts[0]!
  const merged: JsonSchema = { type: 'object', properties: {}, required: [] }
  for (const part of parts) {
    Object.assign(merged.properties!, part.properties)
    merged.required!.push(...(part.required ?? []))
  }
  return merged
}

/** Values the server handed out (ids, payloads, cursors), by the input field they fit. */
export class Pools {
  readonly #pools = new Map<string, unknown[]>()
  add(field: string, value: unknown) {
    const pool = this.#pools.get(field) ?? []
    if (!pool.some((v) => toJson(v) === toJson(value))) {
      pool.push(value)
      if (pool.length > 64) pool.shift()
    }
    this.#pools.set(field, pool)
  }
  get(field: string): readonly unknown[] {
    return this.#pools.get(field) ?? []
  }
}

/** Plausible values for a field by its name: they make valid inputs reach deep into the engine. */
export type Hints = (field: string, rng: Rng) => unknown

const NO_HINT = Symbol('no hint')
export const noHint = NO_HINT

const PRINTABLE = [
  ...'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789  -_.:/@#%+',
  'é',
  'ß',
  'ж',
  'ع',
  '中',
  '👍',
  '👩‍💻',
  '\u200d',
  '\u202e',
]

/** A value the schema accepts (mostly: refinements are not in JSON Schema), shaped by `hints`. */
export function generate(schema: JsonSchema, rng: Rng, hints: Hints, field = ''): unknown {
  const hinted = hints(field, rng)
  if (hinted !== NO_HINT && rng.chance(0.85)) return hinted
  const branches = schema.anyOf ?? schema.oneOf
  if (branches) {
    const nonNull = branches.filter((b) => b.type !== 'null')
    const branch = rng.chance(0.85) && nonNull.length ? rng.pick(nonNull) : rng.pick(branches)
    return generate(branch, rng, hints, field)
  }
  if (schema.allOf?.length) return generate(schema.allOf[0]!, rng, hints, field)
  if (schema.const !== undefined) return schema.const
  if (schema.enum) return rng.pick(schema.enum)
  const type = Array.isArray(schema.type) ? rng.pick(schema.type) : schema.type
  switch (type) {
    case 'object':
      return generateObject(schema, rng, hints)
    case 'array':
      return Array.from({ length: rng.int(0, 3) }, () =>
        generate(schema.items ?? {}, rng, hints, field),
      )
    case 'string':
      return generateString(schema, rng)
    case 'integer':
    case 'number': {
      const lo = Math.max(schema.minimum ?? (schema.exclusiveMinimum ?? -1e6) + 1, -1e12)
      const hi = Math.min(schema.maximum ?? (schema.exclusiveMaximum ?? 1e6) - 1, 1e12)
      if (rng.chance(0.2)) return rng.pick([lo, hi])
      const small = Math.min(hi, Math.max(lo, lo + rng.int(0, 100)))
      return rng.chance(0.7) ? small : rng.int(lo, hi)
    }
    case 'boolean':
      return rng.chance(0.5)
    case 'null':
      return null
    default:
      return rng.pick(['x', 1, true, null])
  }
}

function generateObject(schema: JsonSchema, rng: Rng, hints: Hints): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const [key, sub] of Object.entries(schema.properties ?? {})) {
    if (schema.required?.includes(key) || rng.chance(0.6)) out[key] = generate(sub, rng, hints, key)
  }
  if (typeof schema.additionalProperties === 'object') {
    for (let i = rng.int(0, 3); i > 0; i--) {
      const name = generateString(schema.propertyNames ?? { type: 'string', maxLength: 16 }, rng)
      out[name || 'k'] = generate(schema.additionalProperties, rng, hints, name)
    }
  }
  return out
}

function generateString(schema: JsonSchema, rng: Rng): string {
  switch (schema.format) {
    case 'uuid':
      return rng.uuid()
    case 'date-time': {
      const ms = Date.UTC(2020, 0, 1) + rng.int(0, 10 * 365 * 86_400) * 1000
      return new Date(ms).toISOString()
    }
    case 'uri':
      return `https://relay.example.test/hook/${rng.int(1, 999)}`
    case 'email':
      return `user${rng.int(1, 99)}@example.test`
  }
  if (schema.pattern) {
    const re = new RegExp(schema.pattern, 'u')
    const candidates = [
      String(rng.int(0, 10 ** rng.int(1, 9))),
      rng.pick(['ai.tokens', 'image', 'pro', 'wallpaper', 'a', 'x.y_z-1']),
    ]
    const fit = candidates.find((c) => re.test(c))
    if (fit !== undefined) return fit
  }
  const min = schema.minLength ?? 0
  const max = Math.min(schema.maxLength ?? 40, Math.max(min, 40))
  const length = rng.int(min, Math.max(min, Math.min(max, min + 12)))
  let s = ''
  while (s.length < length) s += rng.pick(PRINTABLE)
  // A multi-unit character may overshoot; cut on a code point boundary.
  while (s.length > Math.max(length, min) && s.length > 0) s = [...s].slice(0, -1).join('')
  return s.length >= min ? s : s.padEnd(min, 'a')
}

const MB = 1 << 20

/** Hostile text: NUL and other controls, lone surrogates, huge and empty strings, number-ish text. */
export function hostileString(rng: Rng): string {
  const control = String.fromCharCode(rng.pick([0, 1, 7, 8, 9, 10, 13, 27, 31, 127, 128, 133, 159]))
  // Half of them are what the text rule is about: NUL, other controls, lone surrogates.
  if (rng.chance(0.5))
    return rng.pick([
      () => '\u0000',
      () => `${rng.pick(['a', 'Alice', 'k-1', ''])}\u0000${rng.pick(['', 'b', '\u0000'])}`,
      () => `${'x'.repeat(rng.int(0, 20))}${control}${rng.pick(['', 'y'])}`,
      () => String.fromCharCode(rng.int(0, 31)),
      () => String.fromCharCode(rng.int(127, 159)),
      () => `a${String.fromCharCode(0xd800 + rng.int(0, 0x7ff))}b`,
      () => String.fromCharCode(0xdc00 + rng.int(0, 0x3ff)),
      () => '\ud83d',
    ])()
  return rng.pick([
    () => '\u0000',
    () => `a\u0000b`,
    () => `${'x'.repeat(rng.int(0, 20))}${control}`,
    () => control.repeat(rng.int(1, 5)),
    () => '\ud800',
    () => '\udfff',
    () => 'a\udbffb',
    () => '\ud83d',
    () => '👍'.slice(1),
    () => (rng.chance(0.15) ? 'a'.repeat(MB) : 'a'.repeat(rng.int(257, 70_000))),
    () => (rng.chance(0.15) ? '\u0000'.repeat(MB) : '\u0000'.repeat(rng.int(2, 5000))),
    () => '👩‍💻'.repeat(rng.int(100, 3000)),
    () => '',
    () => ' ',
    () => '\t\n ',
    () => rng.pick(['NaN', 'Infinity', '-Infinity', '-0', '1e308', '0x1f', '1e999']),
    () => rng.pick(['9007199254740992', '9223372036854775807', '9223372036854775808']),
    () => '9'.repeat(rng.int(19, 40)),
    () => rng.pick(['__proto__', 'constructor', 'prototype', 'toString']),
    () => rng.pick(["'; drop table customers; --", '%', '_', '\\', '%00', '%_%', '$1', '{{x}}']),
    () => rng.pick(['0000-01-01T00:00:00Z', '9999-12-31T23:59:59-23:59', '2026-02-30T00:00:00Z']),
    () =>
      rng.pick(['+275760-09-13T00:00:00Z', '1969-12-31T23:59:59Z', '2026-01-01T00:00:00+99:99']),
    () => rng.pick(['Mars/Olympus', 'Etc/GMT+99', '../../etc/passwd', 'UTC\u0000']),
    () =>
      rng.pick(['javascript:alert(1)', 'http://127.0.0.1:1/', 'http://[::1', 'file:///etc/passwd']),
    () => rng.pick(['\u2028', '\u2029', '\ufeff', '\uffff', '\ufffe', '\u{10ffff}']),
    () => rng.uuid().toUpperCase(),
    () => '00000000-0000-0000-0000-000000000000',
  ])()
}

/** Hostile numbers, as JSON literals where JSON.stringify would change them. */
export function hostileNumber(rng: Rng): unknown {
  return rng.pick<() => unknown>([
    () => new RawJson('-0'),
    () => 2 ** 53,
    () => 2 ** 53 - 1,
    () => -(2 ** 53),
    () => new RawJson('9223372036854775808'),
    () => new RawJson('-9223372036854775809'),
    () => new RawJson('18446744073709551616'),
    () => 1e308,
    () => -1e308,
    () => new RawJson('1e999'),
    () => new RawJson('-1e999'),
    () => 5e-324,
    () => new RawJson('1e-400'),
    () => 0.5,
    () => -1,
    () => 0,
    () => 2 ** 31,
    () => 2 ** 31 - 1,
    () => -(2 ** 31) - 1,
    () => Number.MAX_SAFE_INTEGER,
    () => 1_000_000_000_001,
  ])()
}

/** Nesting deeper than any schema: arrays or objects, as raw JSON (JSON.parse handles it). */
export function deeplyNested(rng: Rng): RawJson {
  const depth = rng.pick([64, 1000, 5000, 20_000])
  return rng.chance(0.5)
    ? new RawJson(`${'['.repeat(depth)}1${']'.repeat(depth)}`)
    : new RawJson(`${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`)
}

/** Any hostile value: text, number, wrong shape. */
export function hostileValue(rng: Rng): unknown {
  const roll = rng.next()
  if (roll < 0.45) return hostileString(rng)
  if (roll < 0.75) return hostileNumber(rng)
  return rng.pick<() => unknown>([
    () => null,
    () => true,
    () => [],
    () => [hostileString(rng)],
    () => ({}),
    () => ({ nested: hostileString(rng) }),
    () => Array.from({ length: rng.pick([100, 10_000]) }, (_, i) => i),
    () => Object.fromEntries(Array.from({ length: rng.pick([40, 5000]) }, (_, i) => [`k${i}`, i])),
    () => deeplyNested(rng),
    () => new RawJson('"NaN"'),
    () => 'Infinity',
  ])()
}

export interface FieldPath {
  path: string[]
  schema: JsonSchema
}

/** Field paths of an object schema, absent optional ones included (what a hostile value may replace). */
export function fieldPaths(schema: JsonSchema | null, prefix: string[] = []): FieldPath[] {
  if (!schema) return []
  const object = [schema, ...(schema.anyOf ?? []), ...(schema.oneOf ?? [])].find(
    (s) => s.properties,
  )
  if (!object?.properties) return []
  const paths: FieldPath[] = []
  for (const [key, sub] of Object.entries(object.properties)) {
    const path = [...prefix, key]
    paths.push({ path, schema: sub })
    if (path.length < 4) paths.push(...fieldPaths(sub, path))
  }
  return paths
}

function typesOf(schema: JsonSchema): string[] {
  const branches = [schema, ...(schema.anyOf ?? []), ...(schema.oneOf ?? [])]
  return branches.flatMap((b) => (Array.isArray(b.type) ? b.type : b.type ? [b.type] : []))
}

/** Mostly a hostile value of the field's own type (text for text, numbers for numbers), else any. */
export function hostileFor(schema: JsonSchema, rng: Rng): unknown {
  if (rng.chance(0.25)) return hostileValue(rng)
  const types = typesOf(schema)
  if (types.includes('string')) return hostileString(rng)
  if (types.includes('integer') || types.includes('number')) return hostileNumber(rng)
  return hostileValue(rng)
}

/** A copy of `value` (an object, else a new one) with `replacement` at `path`. */
export function withValueAt(value: unknown, path: string[], replacement: unknown): unknown {
  const root: Record<string, unknown> =
    value && typeof value === 'object' && !Array.isArray(value) && !(value instanceof RawJson)
      ? { ...(value as Record<string, unknown>) }
      : {}
  let node = root
  for (const [i, key] of path.entries()) {
    if (i === path.length - 1) {
      node[key] = replacement
      break
    }
    const child = node[key]
    const copy =
      child && typeof child === 'object' && !Array.isArray(child) && !(child instanceof RawJson)
        ? { ...(child as Record<string, unknown>) }
        : {}
    node[key] = copy
    node = copy
  }
  return root
}

/** The value at `path`, or undefined. */
export function valueAt(value: unknown, path: string[]): unknown {
  let node = value
  for (const key of path) {
    if (!node || typeof node !== 'object' || node instanceof RawJson) return undefined
    node = (node as Record<string, unknown>)[key]
  }
  return node
}

/** Replaces the whole input: arrays where objects go, scalars, nesting, prototype keys. */
export function wrongShape(valid: unknown, rng: Rng): unknown {
  return rng.pick<() => unknown>([
    () => [valid],
    () => null,
    () => hostileString(rng),
    () => hostileNumber(rng),
    () => true,
    () => deeplyNested(rng),
    () => new RawJson(`{"__proto__":{"admin":true},"constructor":{"prototype":{"x":1}}}`),
    () => ({ ...(typeof valid === 'object' ? valid : {}), unexpected: hostileValue(rng) }),
    () => new RawJson('{"a":1,"a":2'),
    () => Array.from({ length: 1000 }, () => valid),
  ])()
}

const FORBIDDEN_TEXT = /[^\P{Cc}\n\t]|\p{Cs}/u

/**
 * True when a string carries what the text rule refuses in every field (controls other than line
 * breaks and tabs, lone surrogates) once surrounding whitespace is trimmed.
 */
export const forbiddenText = (value: unknown): boolean =>
  typeof value === 'string' && FORBIDDEN_TEXT.test(value.trim())

/** A short, printable rendering of an input for a failure report. */
export function describeInput(value: unknown, max = 400): string {
  const json = toJson(value)
  const shown = json.length > max ? `${json.slice(0, max)}… (${json.length} chars)` : json
  return shown.replace(/\p{Cc}/gu, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)
}
