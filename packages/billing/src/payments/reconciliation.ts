import {
  type Db,
  type Executor,
  payments,
  reconciliationFindings,
  reconciliationRuns,
  rows,
} from '@e-stars/db'
import {
  allStarTransactions,
  type BotApi,
  isUserPartner,
  type StarTransaction,
  starTransactionKind,
} from '@e-stars/telegram'
import { and, desc, eq, isNull, lt, sql } from 'drizzle-orm'
import { InvalidInput, NotFound } from '../errors.ts'
import type { Secrets } from '../identity/secrets.ts'
import { recordPayment } from './payments.ts'
import { recordRefund, telegramFailure } from './refunds.ts'

export type FindingKind =
  | 'missing_payment'
  | 'missing_refund'
  | 'unknown_at_telegram'
  | 'amount_mismatch'
  | 'refund_unknown_at_telegram'

export interface ReconcileInput {
  projectId: string
  botApi: Pick<BotApi, 'getStarTransactions'>
  secrets: Secrets
  /** `interval` (the job), `manual` (reconcile.run) or anything that says who asked. */
  trigger: string
  now?: Date | undefined
}

export type ReconcileResult =
  | {
      status: 'succeeded'
      runId: string
      transactionsSeen: number
      summary: Record<string, number>
      findings: Finding[]
    }
  | { status: 'skipped'; reason: 'another run in progress' }

/** Per project, one run at a time across every replica (a transaction-scoped advisory lock). */
const RECONCILE_LOCK = 727_211_100

/**
 * Compares Telegram's ledger (getStarTransactions, every page) with the local payments and
 * repairs or flags each difference: a charge we lack is recorded (and credited when its payload
 * is one of our orders, else stored as unmatched); a refund we did not apply is applied; a local
 * payment Telegram lacks is flagged. The run and its findings are stored. A second run finds
 * nothing new. Telegram is read first; the comparison and repairs are one transaction.
 */
export async function reconcile(db: Db, input: ReconcileInput): Promise<ReconcileResult> {
  const startedAt = input.now ?? new Date()
  let ledger: StarTransaction[]
  try {
    ledger = []
    for await (const tx of allStarTransactions(input.botApi)) ledger.push(tx)
    // Oldest first whatever end Telegram starts at: a subscription's missing charges are then
    // recorded in the order they were paid, so each extends the right period.
    ledger.sort((a, b) => a.date - b.date || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
  } catch (error) {
    const failure = telegramFailure('getStarTransactions', error)
    await recordFailedRun(db, input, startedAt, failure.message)
    throw failure
  }
  try {
    return await db.transaction(async (tx) => {
      const [lock] = await rows<{ locked: boolean }>(
        tx,
        sql`select pg_try_advisory_xact_lock(${RECONCILE_LOCK}, hashtext(${input.projectId})) as locked`,
      )
      if (!lock?.locked) return { status: 'skipped', reason: 'another run in progress' } as const
      const [run] = await tx
        .insert(reconciliationRuns)
        .values({ projectId: input.projectId, trigger: input.trigger, startedAt })
        .returning({ id: reconciliationRuns.id })
      const runId = run!.id
      const findings: Array<
        Omit<typeof reconciliationFindings.$inferInsert, 'projectId' | 'runId'>
      > = []

      const local = new Map(
        (
          await tx
            .select({
              chargeId: payments.telegramPaymentChargeId,
              status: payments.status,
              amount: payments.amountStars,
              createdAt: payments.createdAt,
            })
            .from(payments)
            .where(eq(payments.projectId, input.projectId))
        ).map((p) => [p.chargeId, p]),
      )
      // A difference is flagged once, ever: resolving it is the operator's answer, not a reset.
      const flagged = new Set(
        (
          await tx
            .select({
              kind: reconciliationFindings.kind,
              chargeId: reconciliationFindings.telegramPaymentChargeId,
            })
            .from(reconciliationFindings)
            .where(eq(reconciliationFindings.projectId, input.projectId))
        ).map((f) => `${f.kind}:${f.chargeId}`),
      )
      const flagOnce = (kind: FindingKind, chargeId: string, details: Record<string, unknown>) => {
        if (flagged.has(`${kind}:${chargeId}`)) return
        flagged.add(`${kind}:${chargeId}`)
        findings.push({ kind, telegramPaymentChargeId: chargeId, action: 'flagged', details })
      }

      const charges = new Map<string, StarTransaction>()
      const refunds = new Map<string, StarTransaction>()
      for (const row of ledger) {
        const kind = starTransactionKind(row)
        if (kind === 'charge') charges.set(row.id, row)
        else if (kind === 'refund') refunds.set(row.id, row)
      }

      for (const [chargeId, row] of charges) {
        const partner = row.source
        if (!isUserPartner(partner)) continue
        const known = local.get(chargeId)
        if (known) {
          if (known.amount !== row.amount)
            flagOnce('amount_mismatch', chargeId, { local: known.amount, telegram: row.amount })
          continue
        }
        const outcome = await recordPayment(tx, {
          projectId: input.projectId,
          secrets: input.secrets,
          via: 'reconciliation',
          paidAt: new Date(row.date * 1000),
          now: startedAt,
          from: partner.user,
          payment: {
            currency: 'XTR',
            total_amount: row.amount,
            invoice_payload: partner.invoice_payload ?? '',
            telegram_payment_charge_id: chargeId,
            ...(partner.subscription_period ? { is_recurring: true } : {}),
          },
        })
        local.set(chargeId, {
          chargeId,
          status: outcome.status,
          amount: row.amount,
          createdAt: startedAt,
        })
        findings.push({
          kind: 'missing_payment',
          telegramPaymentChargeId: chargeId,
          action: outcome.status === 'paid' ? 'recorded' : 'flagged',
          details: {
            amount: row.amount,
            telegramUserId: partner.user.id,
            status: outcome.status,
            flag: outcome.flag,
            credits: outcome.credits,
            productKey: outcome.productKey,
          },
        })
      }

      for (const [chargeId, row] of refunds) {
        if (local.get(chargeId)?.status === 'refunded') continue
        const partner = row.receiver
        if (!isUserPartner(partner)) continue
        const outcome = await recordRefund(tx, {
          projectId: input.projectId,
          via: 'reconciliation',
          now: startedAt,
          from: partner.user,
          refund: {
            currency: 'XTR',
            total_amount: row.amount,
            invoice_payload: partner.invoice_payload ?? '',
            telegram_payment_charge_id: chargeId,
          },
        })
        findings.push({
          kind: 'missing_refund',
          telegramPaymentChargeId: chargeId,
          action: 'applied',
          details: {
            amount: row.amount,
            telegramUserId: partner.user.id,
            voided: outcome.voided,
            spent: outcome.spent,
            debtAdded: outcome.debtAdded,
            absorbed: outcome.absorbed,
            entitlementsRevoked: outcome.entitlementsRevoked,
          },
        })
      }

      for (const [chargeId, payment] of local) {
        // Recorded after Telegram's ledger was read: not yet comparable.
        if (payment.createdAt >= startedAt) continue
        if (!charges.has(chargeId)) {
          flagOnce('unknown_at_telegram', chargeId, {
            amount: payment.amount,
            status: payment.status,
          })
          await tx
            .update(payments)
            .set({ flag: 'missing_at_telegram' })
            .where(
              and(
                eq(payments.projectId, input.projectId),
                eq(payments.telegramPaymentChargeId, chargeId),
                isNull(payments.flag),
              ),
            )
        } else if (payment.status === 'refunded' && !refunds.has(chargeId)) {
          flagOnce('refund_unknown_at_telegram', chargeId, { amount: payment.amount })
        }
      }

      const stored = findings.length
        ? await tx
            .insert(reconciliationFindings)
            .values(findings.map((f) => ({ ...f, projectId: input.projectId, runId })))
            .returning(findingColumns)
        : []
      const summary: Record<string, number> = { charges: charges.size, refunds: refunds.size }
      for (const f of findings)
        summary[`${f.kind}.${f.action}`] = (summary[`${f.kind}.${f.action}`] ?? 0) + 1
      await tx
        .update(reconciliationRuns)
        .set({
          status: 'succeeded',
          transactionsSeen: ledger.length,
          summary,
          finishedAt: new Date(),
        })
        .where(
          and(eq(reconciliationRuns.projectId, input.projectId), eq(reconciliationRuns.id, runId)),
        )
      return {
        status: 'succeeded',
        runId,
        transactionsSeen: ledger.length,
        summary,
        findings: stored.map(toFinding),
      } as const
    })
  } catch (error) {
    await recordFailedRun(
      db,
      input,
      startedAt,
      error instanceof Error ? error.message : String(error),
    )
    throw error
  }
}

async function recordFailedRun(db: Db, input: ReconcileInput, startedAt: Date, error: string) {
  await db.insert(reconciliationRuns).values({
    projectId: input.projectId,
    trigger: input.trigger,
    status: 'failed',
    error: error.slice(0, 1000),
    startedAt,
    finishedAt: new Date(),
  })
}

const findingColumns = {
  id: reconciliationFindings.id,
  runId: reconciliationFindings.runId,
  kind: reconciliationFindings.kind,
  telegramPaymentChargeId: reconciliationFindings.telegramPaymentChargeId,
  action: reconciliationFindings.action,
  details: reconciliationFindings.details,
  resolvedAt: reconciliationFindings.resolvedAt,
  resolvedBy: reconciliationFindings.resolvedBy,
  resolution: reconciliationFindings.resolution,
  createdAt: reconciliationFindings.createdAt,
}

function toFinding(row: {
  id: string
  runId: string
  kind: string
  telegramPaymentChargeId: string | null
  action: string
  details: Record<string, unknown>
  resolvedAt: Date | null
  resolvedBy: string | null
  resolution: string | null
  createdAt: Date
}) {
  return {
    ...row,
    kind: row.kind as FindingKind,
    action: row.action as 'recorded' | 'applied' | 'flagged',
    resolvedAt: row.resolvedAt?.toISOString() ?? null,
    createdAt: row.createdAt.toISOString(),
  }
}

export type Finding = ReturnType<typeof toFinding>

/** Runs, newest first. */
export async function listReconciliationRuns(
  db: Executor,
  input: { projectId: string; limit?: number | undefined },
) {
  const list = await db
    .select({
      id: reconciliationRuns.id,
      trigger: reconciliationRuns.trigger,
      status: reconciliationRuns.status,
      transactionsSeen: reconciliationRuns.transactionsSeen,
      summary: reconciliationRuns.summary,
      error: reconciliationRuns.error,
      startedAt: reconciliationRuns.startedAt,
      finishedAt: reconciliationRuns.finishedAt,
    })
    .from(reconciliationRuns)
    .where(eq(reconciliationRuns.projectId, input.projectId))
    .orderBy(desc(reconciliationRuns.startedAt))
    .limit(input.limit ?? 20)
  return list.map((r) => ({
    ...r,
    startedAt: r.startedAt.toISOString(),
    finishedAt: r.finishedAt?.toISOString() ?? null,
  }))
}

/** Findings, newest first: of one run, or (`unresolved`) everything still waiting for an operator. */
export async function listReconciliationFindings(
  db: Executor,
  input: {
    projectId: string
    runId?: string | undefined
    unresolved?: boolean | undefined
    limit?: number | undefined
    before?: string | undefined
  },
) {
  const list = await db
    .select(findingColumns)
    .from(reconciliationFindings)
    .where(
      and(
        eq(reconciliationFindings.projectId, input.projectId),
        input.runId ? eq(reconciliationFindings.runId, input.runId) : undefined,
        input.unresolved ? isNull(reconciliationFindings.resolvedAt) : undefined,
        input.before ? lt(reconciliationFindings.createdAt, new Date(input.before)) : undefined,
      ),
    )
    .orderBy(desc(reconciliationFindings.createdAt), desc(reconciliationFindings.id))
    .limit(input.limit ?? 50)
  return list.map(toFinding)
}

/** An operator closes a finding, saying what they did. Resolving twice keeps the first answer. */
export async function resolveFinding(
  db: Executor,
  input: { projectId: string; findingId: string; by: string; resolution: string; now?: Date },
): Promise<Finding> {
  if (!input.resolution.trim()) throw new InvalidInput('resolution', 'say what was done')
  const where = and(
    eq(reconciliationFindings.projectId, input.projectId),
    eq(reconciliationFindings.id, input.findingId),
  )
  const [updated] = await db
    .update(reconciliationFindings)
    .set({
      resolvedAt: input.now ?? new Date(),
      resolvedBy: input.by,
      resolution: input.resolution,
    })
    .where(and(where, isNull(reconciliationFindings.resolvedAt)))
    .returning(findingColumns)
  if (updated) return toFinding(updated)
  const [existing] = await db.select(findingColumns).from(reconciliationFindings).where(where)
  if (!existing) throw new NotFound('Finding', input.findingId)
  return toFinding(existing)
}
