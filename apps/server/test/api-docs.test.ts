import { randomBytes } from 'node:crypto'
import { openApiDocument, REST_BASE_PATH, restRoutes } from '@e-stars/api'
import type { Database } from '@e-stars/db'
import { createTestDatabase } from '@e-stars/db/testing'
import { Validator } from '@seriousme/openapi-schema-validator'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { restOperations } from '../src/api-docs.ts'
import { parseEnv } from '../src/env.ts'
import { type RunningServer, startServer } from '../src/server.ts'

const silent = { info() {}, warn() {}, error() {} }
let database: Database
let server: RunningServer

beforeAll(async () => {
  database = await createTestDatabase()
  server = await startServer(
    parseEnv({
      PORT: '0',
      SECRET_KEY: randomBytes(32).toString('base64'),
      RECONCILE_INTERVAL_SECONDS: '0',
    }),
    silent,
    { database },
  )
}, 180_000)

afterAll(async () => {
  await server?.close()
})

describe('the OpenAPI document and /docs', () => {
  it('is a valid OpenAPI 3.1 document (the schema validator), with every REST route in it', async () => {
    const document = openApiDocument(REST_BASE_PATH)
    const validator = new Validator()
    const result = await validator.validate(structuredClone(document) as never)
    expect(result.errors ?? []).toEqual([])
    expect(result.valid).toBe(true)
    expect(validator.version).toBe('3.1')
    const documented = new Set(restOperations(document).map((op) => `${op.method} ${op.path}`))
    const routes = restRoutes()
    expect(routes.length).toBeGreaterThan(10)
    for (const route of routes) expect(documented).toContain(`${route.method} ${route.path}`)
    // Every operation answers its errors as problem+json.
    const problem = document.components?.schemas?.Problem as { required?: string[] }
    expect(problem.required).toEqual(expect.arrayContaining(['type', 'title', 'status', 'code']))
  })

  it('a broken document fails the same validation (the check is real)', async () => {
    const broken = structuredClone(openApiDocument(REST_BASE_PATH)) as unknown as Record<
      string,
      unknown
    >
    delete broken.info
    const result = await new Validator().validate(broken as never)
    expect(result.valid).toBe(false)
  })

  it('/docs lists every REST operation, from the served document, with no script or inline style', async () => {
    const served = await fetch(`${server.url}/openapi.json`)
    expect(served.status).toBe(200)
    const document = (await served.json()) as ReturnType<typeof openApiDocument>
    expect(document).toEqual(
      await (await fetch(`${server.url}${REST_BASE_PATH}/openapi.json`)).json(),
    )
    const page = await fetch(`${server.url}/docs`)
    expect(page.status).toBe(200)
    expect(page.headers.get('content-type')).toMatch(/^text\/html/)
    const text = await page.text()
    const operations = restOperations(document)
    expect(text).toContain(`${operations.length} operations`)
    for (const op of operations)
      expect(text).toContain(`${op.method}</span> <code>${REST_BASE_PATH}${op.path}</code>`)
    expect(text).not.toMatch(/<script|<style|style=/i)
    const css = await fetch(`${server.url}/docs/style.css`)
    expect(css.status).toBe(200)
    expect(css.headers.get('content-type')).toMatch(/^text\/css/)
  })
})
