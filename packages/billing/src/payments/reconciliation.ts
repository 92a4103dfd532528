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
import { emitEvent } from '../ledger/events.ts'
import { transact } from '../ledger/transaction.ts'
import {
  NANOSTARS_PER_STAR,
  paidMediaChargeId,
  recordPayment,
  type StarsReceived,
} from './payments.ts'
import { recordRefund, telegramFailure } from './refunds.ts'
import { storeStarTransactions } from './treasury.ts'

export type FindingKind =
  | 'missing_payment'
  | 'missing_refund'
  | 'unknown_at_telegram'
  | 'amount_mismatch'
  | 'refund_unknown_at_telegram'
  | 'commission_booked'
  | 'bad_affiliate'
  | 'unknown_partner'

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

/** Per project, one run at a time across every replica: taken while a run claims its row. */
const RECONCILE_LOCK = 727_211_100
/** A run still `running` after this long died with its process; a new one may start. */
const RUN_LEASE_MS = 10 * 60_000

type NewFinding = Omit<typeof reconciliationFindings.$inferInsert, 'projectId' | 'runId'>
interface LocalPayment {
  chargeId: string
  status: string
  amount: number
  grossNanostars: number | null
  commissionNanostars: number
  createdAt: Date
}

/**
 * What the bot received for a user's charge, from Telegram's row: the gross (`amount` plus
 * `nanostar_amount`), the affiliate's commission (`AffiliateInfo.amount` + `nanostar_amount`)
 * and so the net, all in nanostars — never rounded to whole Stars. An `AffiliateInfo` that
 * does not add up (negative, larger than the gross, not whole nanostars) books no commission and
 * is flagged.
 */
export function starsReceived(
  row: Pick<StarTransaction, 'amount' | 'nanostar_amount'>,
  transactionType: string | null,
  affiliate: Record<string, unknown> | undefined,
): { stars: StarsReceived; affiliateProblem: string | null } {
  const gross = row.amount * NANOSTARS_PER_STAR + (row.nanostar_amount ?? 0)
  if (!affiliate)
    return {
      stars: { transactionType, grossNanostars: gross, commissionNanostars: 0, affiliate: null },
      affiliateProblem: null,
    }
  const amount = affiliate.amount
  const nano = affiliate.nanostar_amount ?? 0
  const commission =
    Number.isSafeInteger(amount) && Number.isSafeInteger(nano)
      ? (amount as number) * NANOSTARS_PER_STAR + (nano as number)
      : Number.NaN
  const perMille = affiliate.commission_per_mille
  const problem = !Number.isSafeInteger(commission)
    ? 'commission is not a whole number of nanostars'
    : commission < 0 || commission > gross
      ? 'commission is outside 0 and the gross'
      : !Number.isInteger(perMille) || (perMille as number) < 0 || (perMille as number) > 1000
        ? 'commission_per_mille is not 0–1000'
        : null
  return {
    stars: {
      transactionType,
      grossNanostars: gross,
      commissionNanostars: problem ? 0 : commission,
      affiliate,
    },
    affiliateProblem: problem,
  }
}

/**
 * Compares Telegram's ledger (getStarTransactions, every page) with the local payments and
 * repairs or flags each difference: a charge we lack is recorded (and credited when its payload
 * is one of our orders, else stored as unmatched); a refund we did not apply is applied; a local
 * payment Telegram lacks is flagged. The run and its findings are stored; a second run finds
 * nothing new. Telegram is read first, with no transaction open; each repair is its own short
 * transaction through the same door as the bot's and the relay's (`recordPayment`,
 * `recordRefund`), idempotent by charge id, so a run that dies half way is finished by the next.
 */
export async function reconcile(db: Db, input: ReconcileInput): Promise<ReconcileResult> {
  const startedAt = input.now ?? new Date()
  const ledger = await readTelegramLedger(db, input, startedAt)
  const runId = await claimRun(db, input, startedAt)
  if (runId === null) return { status: 'skipped', reason: 'another run in progress' }
  try {
    const { local, flagged } = await readLocal(db, input.projectId)
    const findings: NewFinding[] = []
    const flagOnce = (kind: FindingKind, chargeId: string, details: Record<string, unknown>) => {
      // A difference is flagged once, ever: resolving it is the operator's answer, not a reset.
      if (flagged.has(`${kind}:${chargeId}`)) return
      flagged.add(`${kind}:${chargeId}`)
      findings.push({ kind, telegramPaymentChargeId: chargeId, action: 'flagged', details })
    }
    const { charges, refunds } = splitLedger(ledger)
    const unknownPartners = await storeStarTransactions(db, input.projectId, ledger, startedAt)
    for (const row of unknownPartners)
      flagOnce('unknown_partner', row.id, {
        partnerType: row.partnerType,
        direction: row.direction,
      })
    await recordMissingCharges(db, input, startedAt, { charges, local, findings, flagOnce })
    await applyMissingRefunds(db, input, startedAt, { refunds, local, findings })
    await flagUnknownAtTelegram(db, input.projectId, startedAt, {
      charges,
      refunds,
      local,
      flagOnce,
    })
    return await finishRun(db, input.projectId, runId, {
      transactionsSeen: ledger.length,
      charges: charges.size,
      refunds: refunds.size,
      findings,
    })
  } catch (error) {
    await db
      .update(reconciliationRuns)
      .set({
        status: 'failed',
        error: (error instanceof Error ? error.message : String(error)).slice(0, 1000),
        finishedAt: new Date(),
      })
      .where(
        and(eq(reconciliationRuns.projectId, input.projectId), eq(reconciliationRuns.id, runId)),
      )
    throw error
  }
}

async function readTelegramLedger(db: Db, input: ReconcileInput, startedAt: Date) {
  try {
    const ledger: StarTransaction[] = []
    for await (const row of allStarTransactions(input.botApi)) ledger.push(row)
    // Oldest first whatever end Telegram starts at: a subscription's missing charges are then
    // recorded in the order they were paid, so each extends the right period.
    return ledger.sort((a, b) => a.date - b.date || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
  } catch (error) {
    const failure = telegramFailure('getStarTransactions', error)
    await recordFailedRun(db, input, startedAt, failure.message)
    throw failure
  }
}

/** The run's row, claimed under the project's lock; null while another live run holds it. */
function claimRun(db: Db, input: ReconcileInput, startedAt: Date): Promise<string | null> {
  return transact(db, async (tx) => {
    const [lock] = await rows<{ locked: boolean }>(
      tx,
      sql`select pg_try_advisory_xact_lock(${RECONCILE_LOCK}, hashtext(${input.projectId})) as locked`,
    )
    if (!lock?.locked) return null
    const [running] = await rows<{ id: string }>(
      tx,
      sql`select id from reconciliation_runs
          where project_id = ${input.projectId} and status = 'running'
            and started_at > ${new Date(startedAt.getTime() - RUN_LEASE_MS).toISOString()}::timestamptz
          limit 1`,
    )
    if (running) return null
    const [run] = await tx
      .insert(reconciliationRuns)
      .values({ projectId: input.projectId, trigger: input.trigger, startedAt })
      .returning({ id: reconciliationRuns.id })
    return run!.id
  })
}

async function readLocal(db: Db, projectId: string) {
  const local = new Map<string, LocalPayment>(
    (
      await db
        .select({
          chargeId: payments.telegramPaymentChargeId,
          status: payments.status,
          amount: payments.amountStars,
          grossNanostars: payments.grossNanostars,
          commissionNanostars: payments.commissionNanostars,
          createdAt: payments.createdAt,
        })
        .from(payments)
        .where(eq(payments.projectId, projectId))
    ).map((p) => [p.chargeId, p]),
  )
  const flagged = new Set(
    (
      await db
        .select({
          kind: reconciliationFindings.kind,
          chargeId: reconciliationFindings.telegramPaymentChargeId,
        })
        .from(reconciliationFindings)
        .where(eq(reconciliationFindings.projectId, projectId))
    ).map((f) => `${f.kind}:${f.chargeId}`),
  )
  return { local, flagged }
}

function splitLedger(ledger: StarTransaction[]) {
  const charges = new Map<string, StarTransaction>()
  const refunds = new Map<string, StarTransaction>()
  for (const row of ledger) {
    const kind = starTransactionKind(row)
    if (kind === 'charge') charges.set(row.id, row)
    else if (kind === 'refund') refunds.set(row.id, row)
  }
  return { charges, refunds }
}

/** A charge at Telegram with no local payment: recorded as any delivery would be. */
async function recordMissingCharges(
  db: Db,
  input: ReconcileInput,
  startedAt: Date,
  run: {
    charges: Map<string, StarTransaction>
    local: Map<string, LocalPayment>
    findings: NewFinding[]
    flagOnce: (kind: FindingKind, chargeId: string, details: Record<string, unknown>) => void
  },
) {
  for (const [chargeId, row] of run.charges) {
    const partner = row.source
    if (!isUserPartner(partner)) continue
    const { stars, affiliateProblem } = starsReceived(
      row,
      partner.transaction_type ?? null,
      partner.affiliate as Record<string, unknown> | undefined,
    )
    if (affiliateProblem)
      run.flagOnce('bad_affiliate', chargeId, {
        problem: affiliateProblem,
        affiliate: stars.affiliate,
      })
    // Paid media carries its payload as `paid_media_payload`; the update's provisional row
    // (no charge id) becomes this charge inside `recordPayment`.
    const payload = partner.paid_media_payload ?? partner.invoice_payload ?? ''
    if (partner.transaction_type === 'paid_media_payment') {
      const ref = input.secrets.verifyOrderRef(input.projectId, payload)
      if (ref.ok) run.local.delete(paidMediaChargeId(ref.orderId))
    }
    const known = run.local.get(chargeId)
    if (known) {
      if (known.amount !== row.amount)
        run.flagOnce('amount_mismatch', chargeId, { local: known.amount, telegram: row.amount })
      else await bookTelegramAmounts(db, input.projectId, run, known, stars)
      continue
    }
    const outcome = await recordPayment(db, {
      projectId: input.projectId,
      secrets: input.secrets,
      via: 'reconciliation',
      paidAt: new Date(row.date * 1000),
      now: startedAt,
      from: partner.user,
      stars,
      payment: {
        currency: 'XTR',
        total_amount: row.amount,
        invoice_payload: payload,
        telegram_payment_charge_id: chargeId,
        ...(partner.subscription_period ? { is_recurring: true } : {}),
      },
    })
    run.local.set(chargeId, {
      chargeId,
      status: outcome.status,
      amount: row.amount,
      grossNanostars: stars.grossNanostars,
      commissionNanostars: stars.commissionNanostars,
      createdAt: startedAt,
    })
    // Delivered by the bot or the relay while this run read Telegram: nothing was missing.
    if (outcome.duplicate) continue
    run.findings.push({
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
}

/**
 * A charge the bot or the relay recorded knows only the whole-Star price; Telegram's row says
 * what the bot kept. Its gross, commission and net are booked from Telegram's, once.
 */
async function bookTelegramAmounts(
  db: Db,
  projectId: string,
  run: { findings: NewFinding[] },
  known: LocalPayment,
  stars: StarsReceived,
) {
  if (
    known.grossNanostars === stars.grossNanostars &&
    known.commissionNanostars === stars.commissionNanostars
  )
    return
  await db
    .update(payments)
    .set({
      grossNanostars: stars.grossNanostars,
      commissionNanostars: stars.commissionNanostars,
      netNanostars: stars.grossNanostars - stars.commissionNanostars,
      affiliate: stars.affiliate,
      ...(stars.transactionType ? { transactionType: stars.transactionType } : {}),
    })
    .where(
      and(eq(payments.projectId, projectId), eq(payments.telegramPaymentChargeId, known.chargeId)),
    )
  known.grossNanostars = stars.grossNanostars
  known.commissionNanostars = stars.commissionNanostars
  if (stars.commissionNanostars > 0)
    run.findings.push({
      kind: 'commission_booked',
      telegramPaymentChargeId: known.chargeId,
      action: 'applied',
      details: {
        grossNanostars: stars.grossNanostars,
        commissionNanostars: stars.commissionNanostars,
        netNanostars: stars.grossNanostars - stars.commissionNanostars,
      },
    })
}

/** A refund at Telegram not applied here: revoked as a `refunded_payment` update would. */
async function applyMissingRefunds(
  db: Db,
  input: ReconcileInput,
  startedAt: Date,
  run: {
    refunds: Map<string, StarTransaction>
    local: Map<string, LocalPayment>
    findings: NewFinding[]
  },
) {
  for (const [chargeId, row] of run.refunds) {
    if (run.local.get(chargeId)?.status === 'refunded') continue
    const partner = row.receiver
    if (!isUserPartner(partner)) continue
    const outcome = await recordRefund(db, {
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
    if (outcome.alreadyRefunded) continue
    run.findings.push({
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
}

/** Local payments Telegram does not know, and local refunds it does not show. */
async function flagUnknownAtTelegram(
  db: Db,
  projectId: string,
  startedAt: Date,
  run: {
    charges: Map<string, StarTransaction>
    refunds: Map<string, StarTransaction>
    local: Map<string, LocalPayment>
    flagOnce: (kind: FindingKind, chargeId: string, details: Record<string, unknown>) => void
  },
) {
  for (const [chargeId, payment] of run.local) {
    // Recorded after Telegram's ledger was read: not yet comparable.
    if (payment.createdAt >= startedAt) continue
    if (!run.charges.has(chargeId)) {
      run.flagOnce('unknown_at_telegram', chargeId, {
        amount: payment.amount,
        status: payment.status,
      })
      await db
        .update(payments)
        .set({ flag: 'missing_at_telegram' })
        .where(
          and(
            eq(payments.projectId, projectId),
            eq(payments.telegramPaymentChargeId, chargeId),
            isNull(payments.flag),
          ),
        )
    } else if (payment.status === 'refunded' && !run.refunds.has(chargeId)) {
      run.flagOnce('refund_unknown_at_telegram', chargeId, { amount: payment.amount })
    }
  }
}

/** Findings and the run's summary, in one transaction. */
function finishRun(
  db: Db,
  projectId: string,
  runId: string,
  run: { transactionsSeen: number; charges: number; refunds: number; findings: NewFinding[] },
) {
  return transact(db, async (tx) => {
    const stored = run.findings.length
      ? await tx
          .insert(reconciliationFindings)
          .values(run.findings.map((f) => ({ ...f, projectId, runId })))
          .returning(findingColumns)
      : []
    // One event per finding, in the run's transaction: a webhook learns of it as the console does.
    for (const f of stored)
      await emitEvent(tx, {
        projectId,
        customerId: null,
        type: 'reconciliation.finding',
        payload: {
          findingId: String(f.id),
          runId,
          kind: f.kind,
          action: f.action,
          telegramPaymentChargeId: f.telegramPaymentChargeId,
          details: f.details,
        },
      })
    const summary: Record<string, number> = { charges: run.charges, refunds: run.refunds }
    for (const f of run.findings)
      summary[`${f.kind}.${f.action}`] = (summary[`${f.kind}.${f.action}`] ?? 0) + 1
    await tx
      .update(reconciliationRuns)
      .set({
        status: 'succeeded',
        transactionsSeen: run.transactionsSeen,
        summary,
        finishedAt: new Date(),
      })
      .where(and(eq(reconciliationRuns.projectId, projectId), eq(reconciliationRuns.id, runId)))
    return {
      status: 'succeeded',
      runId,
      transactionsSeen: run.transactionsSeen,
      summary,
      findings: stored.map(toFinding),
    } as const
  })
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

/** What each summary count means, in words: [singular, plural] after the number. */
const SUMMARY_WORDS: Record<string, [string, string]> = {
  charges: ['charge at Telegram', 'charges at Telegram'],
  refunds: ['refund at Telegram', 'refunds at Telegram'],
  'missing_payment.recorded': [
    'charge e-Stars lacked, now recorded',
    'charges e-Stars lacked, now recorded',
  ],
  'missing_payment.flagged': [
    'charge e-Stars lacks and could not record',
    'charges e-Stars lacks and could not record',
  ],
  'missing_refund.applied': [
    'refund e-Stars lacked, now applied',
    'refunds e-Stars lacked, now applied',
  ],
  'missing_refund.flagged': [
    'refund e-Stars lacks and could not apply',
    'refunds e-Stars lacks and could not apply',
  ],
  'unknown_at_telegram.flagged': [
    'charge Telegram does not know',
    'charges Telegram does not know',
  ],
  'amount_mismatch.flagged': [
    'charge whose amount differs from Telegram’s',
    'charges whose amount differs from Telegram’s',
  ],
  'refund_unknown_at_telegram.flagged': [
    'refund Telegram does not know',
    'refunds Telegram does not know',
  ],
  'commission_booked.applied': [
    'affiliate commission booked from Telegram’s ledger',
    'affiliate commissions booked from Telegram’s ledger',
  ],
  'bad_affiliate.flagged': [
    'affiliate entry that does not add up',
    'affiliate entries that do not add up',
  ],
  'unknown_partner.flagged': [
    'transaction with a partner type e-Stars does not know',
    'transactions with a partner type e-Stars does not know',
  ],
}

/** A run's summary as sentences a person reads ("15 charges Telegram does not know"). */
export function summaryWords(summary: Record<string, unknown>): string[] {
  return Object.entries(summary).flatMap(([key, count]) => {
    if (typeof count !== 'number') return []
    const [one, many] = SUMMARY_WORDS[key] ?? [key, key]
    return [`${count.toLocaleString('en-US')} ${count === 1 ? one : many}`]
  })
}

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
    /** The summary in words, for people: "15 charges Telegram does not know". */
    summaryWords: summaryWords(r.summary ?? {}),
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
