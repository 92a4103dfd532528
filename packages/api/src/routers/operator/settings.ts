import {
  audited,
  getProjectSettings,
  getRelayStatus,
  getTelegramSettings,
  setBotToken,
  setRelaySettings,
  updateProjectSettings,
} from '@e-stars/billing'
import { TRPCError } from '@trpc/server'
import { ownerProcedure, projectProcedure } from '../../trpc.ts'
import { botTokenInput, relayInput, settingsUpdateInput } from './inputs.ts'

export const settingsRouter = {
  get: projectProcedure.query(({ ctx }) => getProjectSettings(ctx.db, ctx.project.id)),
  update: ownerProcedure
    .input(settingsUpdateInput)
    .mutation(({ ctx, input }) =>
      updateProjectSettings(ctx.db, { ...input, projectId: ctx.project.id, actor: ctx.actor }),
    ),
  /** Whether a bot token is set (never the token), the relay target and its path. */
  telegram: projectProcedure.query(({ ctx }) => getTelegramSettings(ctx.db, ctx.project.id)),
  /** Write-only: the token is encrypted at rest and never shown again (null removes it). */
  setBotToken: ownerProcedure.input(botTokenInput).mutation(({ ctx, input }) => {
    const payments = ctx.payments
    if (!payments)
      throw new TRPCError({
        code: 'PRECONDITION_FAILED',
        message: 'Bot tokens need SECRET_KEY on the server (they are stored encrypted)',
      })
    return audited(
      ctx.db,
      (tx) =>
        setBotToken(tx, {
          projectId: ctx.project.id,
          botToken: input.botToken,
          secrets: payments.secrets,
        }),
      {
        projectId: ctx.project.id,
        actor: ctx.actor,
        action: input.botToken ? 'bot_token.set' : 'bot_token.remove',
        target: `project:${ctx.project.id}`,
        after: (s) => ({ botTokenSet: s.botTokenSet }),
      },
    )
  }),
  /** The relay's backlog: pending and failing updates, the last error and the last forward. */
  relayStatus: projectProcedure.query(({ ctx }) => getRelayStatus(ctx.db, ctx.project.id)),
  setRelay: ownerProcedure.input(relayInput).mutation(({ ctx, input }) =>
    audited(
      ctx.db,
      (tx) =>
        setRelaySettings(tx, {
          projectId: ctx.project.id,
          relayTarget: input.relayTarget,
          targetRule: ctx.targetRule,
        }),
      {
        projectId: ctx.project.id,
        actor: ctx.actor,
        action: 'relay.update',
        target: `project:${ctx.project.id}`,
        after: (s) => ({ relayTarget: s.relayTarget }),
      },
    ),
  ),
}
