import { listOperatorProjects } from '@e-stars/billing'
import { operatorProcedure } from '../../trpc.ts'
import { operatorTreasuryRouter } from '../treasury.ts'
import { auditRouter } from './audit.ts'
import { authRouter } from './auth.ts'
import { operatorFeaturesRouter, operatorProductsRouter } from './catalog.ts'
import { operatorCustomersRouter } from './customers.ts'
import { apiKeysRouter } from './keys.ts'
import { overviewRouter } from './overview.ts'
import { operatorPaymentsRouter } from './payments.ts'
import { operatorReconciliationRouter } from './reconciliation.ts'
import { settingsRouter } from './settings.ts'

/** Everything the console calls: session-cookie auth, project membership, CSRF on mutations. */
export const operatorRouter = {
  auth: authRouter,
  projects: operatorProcedure.query(({ ctx }) => listOperatorProjects(ctx.db, ctx.operator.id)),
  overview: overviewRouter,
  customers: operatorCustomersRouter,
  payments: operatorPaymentsRouter,
  products: operatorProductsRouter,
  features: operatorFeaturesRouter,
  reconciliation: operatorReconciliationRouter,
  treasury: operatorTreasuryRouter,
  apiKeys: apiKeysRouter,
  audit: auditRouter,
  settings: settingsRouter,
}
