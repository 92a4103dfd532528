import type { inferRouterInputs, inferRouterOutputs } from '@trpc/server'
import { accessRouter, featureUsageRouter } from './routers/access.ts'
import { checkoutRouter } from './routers/checkout.ts'
import { creditsRouter } from './routers/credits.ts'
import { customersRouter } from './routers/customers.ts'
import { entitlementsRouter } from './routers/entitlements.ts'
import { eventsRouter } from './routers/events.ts'
import { featuresRouter } from './routers/features.ts'
import { invoicesRouter } from './routers/invoices.ts'
import { ledgerRouter } from './routers/ledger.ts'
import { marginRouter } from './routers/margin.ts'
import { meRouter, miniAppRouter } from './routers/me.ts'
import { operatorRouter } from './routers/operator/index.ts'
import { paymentsRouter } from './routers/payments.ts'
import { productsRouter } from './routers/products.ts'
import { projectRouter } from './routers/project.ts'
import { reconcileRouter } from './routers/reconcile.ts'
import { refundAbuseRouter } from './routers/refund-abuse.ts'
import { treasuryRouter } from './routers/treasury.ts'
import { usageRouter } from './routers/usage.ts'
import { webhooksRouter } from './routers/webhooks.ts'
import { router } from './trpc.ts'

/** Every procedure a bot or a Mini App calls: what `ClientRouter` (the public client) is built from. */
export const clientProcedures = {
  project: projectRouter,
  customers: customersRouter,
  credits: creditsRouter,
  usage: { ...usageRouter, ...featureUsageRouter },
  ledger: ledgerRouter,
  products: productsRouter,
  invoices: invoicesRouter,
  checkout: checkoutRouter,
  payments: paymentsRouter,
  reconcile: reconcileRouter,
  treasury: treasuryRouter,
  features: featuresRouter,
  access: accessRouter,
  entitlements: entitlementsRouter,
  events: eventsRouter,
  /** Mini App sign-in from Telegram init data (public). */
  miniApp: miniAppRouter,
  /** The signed-in Mini App user (customer token, not API keys). */
  me: meRouter,
}

export const appRouter = router({
  ...clientProcedures,
  /** The operator console (session cookie, not API keys). */
  operator: operatorRouter,
  /** Signed webhooks, from the console (session cookie, like `operator`). */
  webhooks: webhooksRouter,
  /** Refund-abuse policy and the customers by refund rate, from the console. */
  refundAbuse: refundAbuseRouter,
  /** Margin control (revenue, cost, price book, cost caps), from the console. */
  margin: marginRouter,
})

export type AppRouter = typeof appRouter
/** Inputs and outputs of every procedure, the operator console's included. */
export type RouterInputs = inferRouterInputs<AppRouter>
export type RouterOutputs = inferRouterOutputs<AppRouter>
