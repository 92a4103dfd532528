import {
  audited,
  createWebhookEndpoint,
  deleteWebhookEndpoint,
  listWebhookDeliveries,
  listWebhookEndpoints,
  MAX_WEBHOOK_URL_LENGTH,
  resendWebhookDelivery,
  rotateWebhookSecret,
  setWebhookEndpointEnabled,
  WEBHOOK_EVENT_TYPES,
} from '@e-stars/billing'
import { TRPCError } from '@trpc/server'
import { z } from 'zod'
import { limit, rowId } from '../inputs.ts'
import { ownerProcedure, projectProcedure } from '../trpc.ts'

const endpointInput = z.object({ endpointId: z.uuid() })

export const webhookCreateInput = z.object({
  /** Checked again by the engine against the server's outbound rule (private addresses). */
  url: z.string().trim().min(1).max(MAX_WEBHOOK_URL_LENGTH),
  /** Empty: every event type, including ones added later. */
  eventTypes: z.array(z.enum(WEBHOOK_EVENT_TYPES)).max(WEBHOOK_EVENT_TYPES.length).default([]),
})

function needSecrets<T>(payments: T | null | undefined): T {
  if (!payments)
    throw new TRPCError({
      code: 'PRECONDITION_FAILED',
      message: 'Webhooks need SECRET_KEY on the server (their secrets are stored encrypted)',
    })
  return payments
}

/**
 * Signed webhooks, from the console (session cookie; owners change, viewers read). The signing
 * secret is in `create`'s answer only: it is stored encrypted and never shown again.
 */
export const webhooksRouter = {
  eventTypes: projectProcedure.query(() => [...WEBHOOK_EVENT_TYPES]),
  /** With `previousSecretUntil` while a rotation's overlap runs (never a secret). */
  list: projectProcedure.query(({ ctx }) =>
    listWebhookEndpoints(ctx.db, ctx.project.id, { secrets: ctx.payments?.secrets }),
  ),
  create: ownerProcedure.input(webhookCreateInput).mutation(({ ctx, input }) => {
    const payments = needSecrets(ctx.payments)
    return audited(
      ctx.db,
      (tx) =>
        createWebhookEndpoint(tx, {
          projectId: ctx.project.id,
          url: input.url,
          eventTypes: input.eventTypes,
          secrets: payments.secrets,
          targetRule: ctx.targetRule,
        }),
      {
        projectId: ctx.project.id,
        actor: ctx.actor,
        action: 'webhook.create',
        target: `project:${ctx.project.id}`,
        // Never the secret.
        after: (r) => ({
          id: r.endpoint.id,
          url: r.endpoint.url,
          eventTypes: r.endpoint.eventTypes,
        }),
      },
    )
  }),
  /**
   * A new signing secret, in this answer only. For 24 h deliveries are signed with both the new
   * and the previous secret (two `v1,` signatures), then with the new one only.
   */
  rotateSecret: ownerProcedure.input(endpointInput).mutation(({ ctx, input }) => {
    const payments = needSecrets(ctx.payments)
    return audited(
      ctx.db,
      (tx) =>
        rotateWebhookSecret(tx, {
          projectId: ctx.project.id,
          endpointId: input.endpointId,
          secrets: payments.secrets,
        }),
      {
        projectId: ctx.project.id,
        actor: ctx.actor,
        action: 'webhook.rotate_secret',
        target: `webhook:${input.endpointId}`,
        // Never a secret: when the previous one stops signing.
        after: (r) => ({ previousSecretUntil: r.previousSecretUntil }),
      },
    )
  }),
  setEnabled: ownerProcedure
    .input(endpointInput.extend({ enabled: z.boolean() }))
    .mutation(({ ctx, input }) =>
      audited(
        ctx.db,
        (tx) => setWebhookEndpointEnabled(tx, { ...input, projectId: ctx.project.id }),
        {
          projectId: ctx.project.id,
          actor: ctx.actor,
          action: input.enabled ? 'webhook.enable' : 'webhook.disable',
          target: `webhook:${input.endpointId}`,
          after: (e) => ({ disabledAt: e.disabledAt }),
        },
      ),
    ),
  delete: ownerProcedure.input(endpointInput).mutation(({ ctx, input }) =>
    audited(ctx.db, (tx) => deleteWebhookEndpoint(tx, { ...input, projectId: ctx.project.id }), {
      projectId: ctx.project.id,
      actor: ctx.actor,
      action: 'webhook.delete',
      target: `webhook:${input.endpointId}`,
    }),
  ),
  /** The delivery log: status, attempts, the last answer's code or the reason it failed. */
  deliveries: projectProcedure
    .input(endpointInput.extend({ before: rowId.nullish(), limit: limit(200, 50) }))
    .query(({ ctx, input }) =>
      listWebhookDeliveries(ctx.db, { ...input, projectId: ctx.project.id }),
    ),
  /** Send again: due now, with the same `webhook-id`. */
  resend: ownerProcedure
    .input(z.object({ deliveryId: rowId }))
    .mutation(({ ctx, input }) =>
      resendWebhookDelivery(ctx.db, { ...input, projectId: ctx.project.id }),
    ),
}
