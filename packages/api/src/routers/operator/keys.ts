import { createProjectApiKey, listApiKeys, revokeProjectApiKey } from '@e-stars/billing'
import { ownerProcedure, projectProcedure } from '../../trpc.ts'
import { apiKeyCreateInput, apiKeyRevokeInput } from './inputs.ts'

export const apiKeysRouter = {
  /** Names and prefixes only: a key is shown once, when it is created. */
  list: projectProcedure.query(({ ctx }) => listApiKeys(ctx.db, ctx.project.id)),
  create: ownerProcedure.input(apiKeyCreateInput).mutation(({ ctx, input }) =>
    createProjectApiKey(ctx.db, {
      projectId: ctx.project.id,
      name: input.name,
      actor: ctx.actor,
    }),
  ),
  revoke: ownerProcedure.input(apiKeyRevokeInput).mutation(async ({ ctx, input }) => {
    const result = await revokeProjectApiKey(ctx.db, {
      projectId: ctx.project.id,
      keyId: input.keyId,
      actor: ctx.actor,
    })
    ctx.apiKeys.forgetProjectKey(input.keyId)
    return result
  }),
}
