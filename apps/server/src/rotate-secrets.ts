import type { Secrets } from '@e-stars/billing'
import { type Db, projects, webhookEndpoints } from '@e-stars/db'
import { and, eq, isNotNull } from 'drizzle-orm'

export interface RotationResult {
  botTokens: number
  webhookSecrets: number
}

/**
 * `pnpm cli secrets rotate`: re-encrypts every stored bot token and webhook signing secret with
 * SECRET_KEY (each read with SECRET_KEY or SECRET_KEY_PREVIOUS), in one transaction, so either
 * all are rewritten or none is. Idempotent: a second run rewrites them again under the same key.
 * Order references cannot be re-signed (Telegram holds them in sent invoices): keep
 * SECRET_KEY_PREVIOUS until the longest invoice lifetime has passed (docs/deploy.md).
 */
export async function rotateStoredSecrets(db: Db, secrets: Secrets): Promise<RotationResult> {
  return db.transaction(async (tx) => {
    const tokens = await tx
      .select({ id: projects.id, encrypted: projects.botTokenEncrypted })
      .from(projects)
      .where(isNotNull(projects.botTokenEncrypted))
      .for('update')
    for (const row of tokens) {
      const token = readable(`project ${row.id}: the bot token`, () =>
        secrets.decryptBotToken(row.id, row.encrypted as string),
      )
      await tx
        .update(projects)
        .set({ botTokenEncrypted: secrets.encryptBotToken(row.id, token) })
        .where(eq(projects.id, row.id))
    }
    const endpoints = await tx
      .select({
        projectId: webhookEndpoints.projectId,
        id: webhookEndpoints.id,
        encrypted: webhookEndpoints.secretEncrypted,
      })
      .from(webhookEndpoints)
      .for('update')
    for (const row of endpoints) {
      const secret = readable(`webhook endpoint ${row.id}: the signing secret`, () =>
        secrets.decryptWebhookSecret(row.projectId, row.id, row.encrypted),
      )
      await tx
        .update(webhookEndpoints)
        .set({ secretEncrypted: secrets.encryptWebhookSecret(row.projectId, row.id, secret) })
        .where(and(eq(webhookEndpoints.projectId, row.projectId), eq(webhookEndpoints.id, row.id)))
    }
    return { botTokens: tokens.length, webhookSecrets: endpoints.length }
  })
}

/** A value neither key opens stops the rotation (nothing is written), naming what it was. */
function readable<T>(what: string, open: () => T): T {
  try {
    return open()
  } catch {
    throw new Error(
      `${what} decrypts with neither SECRET_KEY nor SECRET_KEY_PREVIOUS; nothing was re-encrypted`,
    )
  }
}
