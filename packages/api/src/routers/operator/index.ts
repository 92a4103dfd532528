import { listOperatorProjects } from '@e-stars/billing'
import { operatorProcedure } from '../../trpc.ts'
import { auditRouter } from './audit.ts'
import { authRouter } from './auth.ts'
import { operatorCustomersRouter } from './customers.ts'
import { apiKeysRouter } from './keys.ts'
import { overviewRouter } from './overview.ts'
import { settingsRouter } from './settings.ts'

/** Everything the console calls: session-cookie auth, project membership, CSRF on mutations. */
export const operatorRouter = {
  auth: authRouter,
  projects: operatorProcedure.query(({ ctx }) => listOperatorProjects(ctx.db, ctx.operator.id)),
  overview: overviewRouter,
  customers: operatorCustomersRouter,
  apiKeys: apiKeysRouter,
  audit: auditRouter,
  settings: settingsRouter,
}
