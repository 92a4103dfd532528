/**
 * Hostile input through REST and through tRPC, the same bodies: every POST route of `/api/v1`
 * gets a valid-looking body from its own input schema with one field made hostile (NUL and
 * control characters, lone surrogates, −0, 2^53, 1e308, wrong shapes, deep nesting). Expect: the
 * status tRPC answers, never a 5xx, and every refusal as problem+json (a 400 naming a field).
 *
 *   REST_FUZZ_INPUTS=2000 REST_FUZZ_SEED=123 npx vitest run test/rest-fuzz.test.ts
 */
import { appRouter, restRoutes } from '@e-stars/api'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type Stack, startStack } from '../src/testing.ts'
import {
  describeInput,
  fieldPaths,
  generate,
  type Hints,
  hostileFor,
  noHint,
  proceduresOf,
  Rng,
  toJson,
  withValueAt,
} from './fuzz-inputs.ts'

const INPUTS = Number(process.env.REST_FUZZ_INPUTS ?? 300)
const SEED = Number(process.env.REST_FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31))
let stack: Stack

/** Known customers and products, so valid-looking bodies reach the engine. */
const hints: Hints = (field, rng) => {
  if (field.endsWith('telegramUserId')) return rng.next() < 0.5 ? 2_000_001 : 2_000_002
  if (field.endsWith('productKey')) return 'pack_m'
  return noHint
}

beforeAll(async () => {
  stack = await startStack()
})
afterAll(() => stack?.close())

async function post(url: string, body: string) {
  const response = await fetch(url, {
    method: 'POST',
    headers: { authorization: `Bearer ${stack.apiKey}`, 'content-type': 'application/json' },
    body,
  })
  return {
    status: response.status,
    type: response.headers.get('content-type'),
    text: await response.text(),
  }
}

describe(`REST fuzz (seed ${SEED}, ${INPUTS} inputs)`, () => {
  it('answers hostile bodies as tRPC does: the same status, never a 5xx, problem+json naming the field', async () => {
    const rng = new Rng(SEED)
    const schemas = new Map(proceduresOf(appRouter).map((p) => [p.path, p.schema]))
    // Routes with path parameters take part of their input from the URL: the body-only ones here.
    const routes = restRoutes().filter((r) => r.method === 'POST' && !r.path.includes('{'))
    const failures: string[] = []
    for (let i = 0; i < INPUTS; i++) {
      const route = routes[Math.floor(rng.next() * routes.length)]!
      const schema = schemas.get(route.procedure) ?? null
      let input = schema ? generate(schema, rng, hints) : {}
      const fields = fieldPaths(schema)
      const field = fields[Math.floor(rng.next() * fields.length)]
      if (field) input = withValueAt(input, field.path, hostileFor(field.schema, rng))
      const body = toJson(input)
      const rest = await post(`${stack.server.url}/api/v1${route.path}`, body)
      const trpc = await post(`${stack.server.url}/trpc/${route.procedure}`, body)
      const seen = `${route.procedure} ${describeInput(input)}: REST ${rest.status} ${rest.text.slice(0, 300)} / tRPC ${trpc.status}`
      if (rest.status >= 500 || rest.status !== trpc.status) failures.push(seen)
      if (rest.status >= 400) {
        if (!rest.type?.includes('application/problem+json'))
          failures.push(`not a problem: ${seen}`)
        const problem = JSON.parse(rest.text) as { field?: unknown; stack?: unknown }
        if (rest.status === 400 && typeof problem.field !== 'string')
          failures.push(`no field: ${seen}`)
      }
    }
    expect(failures, `seed ${SEED}`).toEqual([])
  }, 120_000)
})
