import { beforeAll, describe, expect, it } from 'vitest'
import { consoleAs, consoleProjects, errorOf, useDatabase } from './fixtures.ts'

const t = useDatabase()
let projectId: string

beforeAll(async () => {
  ;({ projectId } = await consoleProjects(t.db, 'Hooks', 'hook'))
})

describe('webhooks procedures', () => {
  it('creates an endpoint and shows its secret once; the log and send again work', async () => {
    const owner = await consoleAs(t.db, 'hook-owner@x.io')
    const created = await owner().webhooks.create({
      projectId,
      url: 'https://hooks.example.com/e-stars',
      eventTypes: ['payment.succeeded'],
    })
    expect(created.secret).toMatch(/^whsec_[A-Za-z0-9+/=]{32}$/)
    const listed = await owner().webhooks.list({ projectId })
    expect(listed).toEqual([
      expect.objectContaining({
        id: created.endpoint.id,
        url: 'https://hooks.example.com/e-stars',
        eventTypes: ['payment.succeeded'],
        disabledAt: null,
      }),
    ])
    expect(JSON.stringify(listed)).not.toContain(created.secret)
    const audit = await owner().operator.audit.list({ projectId })
    expect(JSON.stringify(audit)).toContain('webhook.create')
    expect(JSON.stringify(audit)).not.toContain(created.secret.slice(6))
    const off = await owner().webhooks.setEnabled({
      projectId,
      endpointId: created.endpoint.id,
      enabled: false,
    })
    expect(off.disabledAt).toBeInstanceOf(Date)
    expect(
      await owner().webhooks.deliveries({ projectId, endpointId: created.endpoint.id }),
    ).toEqual([])
    const missing = await errorOf(owner().webhooks.resend({ projectId, deliveryId: 999_999 }))
    expect(missing.code).toBe('NOT_FOUND')
    await owner().webhooks.delete({ projectId, endpointId: created.endpoint.id })
    expect(await owner().webhooks.list({ projectId })).toEqual([])
  })

  it('bad input is BAD_REQUEST naming the field, and nothing is written', async () => {
    const owner = await consoleAs(t.db, 'hook-owner@x.io')
    const unknown = await errorOf(
      owner().webhooks.create({
        projectId,
        url: 'https://hooks.example.com/a',
        // @ts-expect-error an event type that does not exist
        eventTypes: ['payment.exploded'],
      }),
    )
    expect(unknown.code).toBe('BAD_REQUEST')
    expect(JSON.stringify(unknown.cause)).toContain('eventTypes')
    const long = await errorOf(
      owner().webhooks.create({ projectId, url: `https://example.com/${'a'.repeat(2100)}` }),
    )
    expect(long.code).toBe('BAD_REQUEST')
    expect(JSON.stringify(long.cause)).toContain('url')
    const notHttp = await errorOf(
      owner().webhooks.create({ projectId, url: 'ftp://example.com/hook' }),
    )
    expect(notHttp.code).toBe('BAD_REQUEST')
    expect(notHttp.message).toContain('url')
    const loopback = await errorOf(
      owner().webhooks.create({ projectId, url: 'http://127.0.0.1:8080/hook' }),
    )
    expect(loopback.code).toBe('BAD_REQUEST')
    expect(loopback.message).toMatch(/url: must be a public address/)
    expect(await owner().webhooks.list({ projectId })).toEqual([])
  })

  it('a viewer reads but cannot change; another project’s operator is refused', async () => {
    const viewer = await consoleAs(t.db, 'hook-viewer@x.io')
    expect(await viewer().webhooks.list({ projectId })).toEqual([])
    const denied = await errorOf(
      viewer().webhooks.create({ projectId, url: 'https://hooks.example.com/v' }),
    )
    expect(denied.code).toBe('FORBIDDEN')
    const stranger = await consoleAs(t.db, 'hook-stranger@x.io')
    const foreign = await errorOf(stranger().webhooks.list({ projectId }))
    expect(foreign.code).toBe('FORBIDDEN')
    const foreignCreate = await errorOf(
      stranger().webhooks.create({ projectId, url: 'https://hooks.example.com/s' }),
    )
    expect(foreignCreate.code).toBe('FORBIDDEN')
  })
})
