import { creditsRouter } from './routers/credits.ts'
import { customersRouter } from './routers/customers.ts'
import { ledgerRouter } from './routers/ledger.ts'
import { operatorRouter } from './routers/operator/index.ts'
import { projectRouter } from './routers/project.ts'
import { usageRouter } from './routers/usage.ts'
import { router } from './trpc.ts'

export const appRouter = router({
  project: projectRouter,
  customers: customersRouter,
  credits: creditsRouter,
  usage: usageRouter,
  ledger: ledgerRouter,
  /** The operator console (session cookie, not API keys). */
  operator: operatorRouter,
})

export type AppRouter = typeof appRouter
