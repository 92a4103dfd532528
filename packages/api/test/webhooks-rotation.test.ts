import { decodeWebhookSecret } from '@e-stars/billing'
import { webhookEndpoints } from '@e-stars/db'
import { beforeAll, describe, expect, it } from 'vitest'
import { consoleAs, consoleProjects, consoleSecrets, errorOf, useDatabase } from './fixtures.ts'

const t = useDatabase()
let projectId: string
let otherProjectId: string

beforeAll(async () => {
  ;({ projectId, otherProjectId } = await consoleProjects(t.db, 'Rotating hooks', 'rot'))
})

describe('webhooks.rotateSecret', () => {
  it('shows the new secret once; the list shows the overlap, never a secret; audited without it', async () => {
    const owner = await consoleAs(t.db, 'rot-owner@x.io')
    const created = await owner().webhooks.create({
      projectId,
      url: 'https://hooks.example.com/rotating',
    })
    const before = Date.now()
    const rotated = await owner().webhooks.rotateSecret({
      projectId,
      endpointId: created.endpoint.id,
    })
    expect(rotated.secret).toMatch(/^whsec_[A-Za-z0-9+/=]{32}$/)
    expect(rotated.secret).not.toBe(created.secret)
    const overlap = rotated.previousSecretUntil.getTime() - before
    expect(overlap).toBeGreaterThan(24 * 3_600_000 - 60_000)
    expect(overlap).toBeLessThanOrEqual(24 * 3_600_000 + 60_000)
    // Stored encrypted: the new secret signs, the previous one with the end of its overlap.
    const row = (
      await t.db
        .select({ id: webhookEndpoints.id, secret: webhookEndpoints.secretEncrypted })
        .from(webhookEndpoints)
    ).find((r) => r.id === created.endpoint.id)
    expect(row!.secret).not.toContain(rotated.secret.slice(6))
    expect(
      decodeWebhookSecret(
        consoleSecrets.decryptWebhookSecret(projectId, created.endpoint.id, row!.secret),
      ),
    ).toEqual({
      current: rotated.secret,
      previous: { secret: created.secret, until: rotated.previousSecretUntil },
    })
    const listed = await owner().webhooks.list({ projectId })
    expect(listed).toEqual([
      expect.objectContaining({
        id: created.endpoint.id,
        previousSecretUntil: rotated.previousSecretUntil,
      }),
    ])
    for (const secret of [created.secret, rotated.secret]) {
      expect(JSON.stringify(listed)).not.toContain(secret.slice(6))
      const audit = await owner().operator.audit.list({ projectId })
      expect(JSON.stringify(audit)).toContain('webhook.rotate_secret')
      expect(JSON.stringify(audit)).not.toContain(secret.slice(6))
    }
  })

  it('a viewer, another project and an unknown endpoint are refused', async () => {
    const owner = await consoleAs(t.db, 'rot-owner@x.io')
    const created = await owner().webhooks.create({
      projectId,
      url: 'https://hooks.example.com/r2',
    })
    const viewer = await consoleAs(t.db, 'rot-viewer@x.io')
    const denied = await errorOf(
      viewer().webhooks.rotateSecret({ projectId, endpointId: created.endpoint.id }),
    )
    expect(denied.code).toBe('FORBIDDEN')
    const stranger = await consoleAs(t.db, 'rot-stranger@x.io')
    const foreign = await errorOf(
      stranger().webhooks.rotateSecret({ projectId, endpointId: created.endpoint.id }),
    )
    expect(foreign.code).toBe('FORBIDDEN')
    // Their own project: my endpoint is not theirs to find.
    const notTheirs = await errorOf(
      stranger().webhooks.rotateSecret({
        projectId: otherProjectId,
        endpointId: created.endpoint.id,
      }),
    )
    expect(notTheirs.code).toBe('NOT_FOUND')
    const missing = await errorOf(
      owner().webhooks.rotateSecret({ projectId, endpointId: crypto.randomUUID() }),
    )
    expect(missing.code).toBe('NOT_FOUND')
    const bad = await errorOf(owner().webhooks.rotateSecret({ projectId, endpointId: 'nope' }))
    expect(bad.code).toBe('BAD_REQUEST')
  })

  it('plain http to a public name is refused naming url, nothing written', async () => {
    const owner = await consoleAs(t.db, 'rot-owner@x.io')
    const count = (await owner().webhooks.list({ projectId })).length
    const http = await errorOf(
      owner().webhooks.create({ projectId, url: 'http://hooks.example.com/plain' }),
    )
    expect(http.code).toBe('BAD_REQUEST')
    expect(http.message).toMatch(/url: must be an https URL/)
    expect(await owner().webhooks.list({ projectId })).toHaveLength(count)
  })
})
