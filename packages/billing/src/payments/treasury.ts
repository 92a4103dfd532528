import { type Db, type Executor, rows, starTransactions } from '@e-stars/db'
import type { BotApi, StarTransaction, TransactionPartner } from '@e-stars/telegram'
import { and, desc, eq, sql } from 'drizzle-orm'
import { telegramFailure } from './refunds.ts'

const NANO = 1_000_000_000

/** The partner types of Bot API 10.3's `TransactionPartner`; anything else is kept and flagged. */
export const KNOWN_PARTNER_TYPES = new Set([
  'user',
  'chat',
  'affiliate_program',
  'fragment',
  'telegram_ads',
  'telegram_api',
  'other',
])

/** `transaction_type`s of a user partner that are the bot spending, not a refund. */
const SPENDING_TYPES = new Set(['gift_purchase', 'premium_purchase', 'business_account_transfer'])

const WITHDRAWAL_STATES: Record<string, 'pending' | 'succeeded' | 'failed'> = {
  pending: 'pending',
  succeeded: 'succeeded',
  failed: 'failed',
}

function describe(row: StarTransaction) {
  const direction = row.source ? ('in' as const) : ('out' as const)
  const partner = (row.source ?? row.receiver) as
    | (TransactionPartner & Record<string, unknown>)
    | undefined
  const partnerType = typeof partner?.type === 'string' ? partner.type : 'none'
  const withdrawal = partner?.withdrawal_state as { type?: unknown } | undefined
  const withdrawalState =
    partnerType === 'fragment' && typeof withdrawal?.type === 'string'
      ? (WITHDRAWAL_STATES[withdrawal.type] ?? null)
      : null
  const detail =
    partnerType === 'user' && typeof partner?.transaction_type === 'string'
      ? partner.transaction_type
      : partnerType === 'fragment'
        ? (withdrawalState ?? (typeof withdrawal?.type === 'string' ? withdrawal.type : null))
        : null
  const nanostars = Math.abs(row.amount * NANO + (row.nanostar_amount ?? 0))
  const flagged = !KNOWN_PARTNER_TYPES.has(partnerType)
    ? `unknown partner type: ${partnerType}`
    : partnerType === 'fragment' && withdrawal?.type !== undefined && withdrawalState === null
      ? `unknown withdrawal state: ${String(withdrawal.type)}`
      : null
  return { direction, partnerType, detail, withdrawalState, nanostars, flagged }
}

/**
 * Stores every row of Telegram's Stars ledger once (by id and direction), amounts in nanostars;
 * a withdrawal's state is updated as Telegram moves it (pending → succeeded or failed). Returns
 * the rows whose partner type e-Stars does not know: stored and flagged, never dropped.
 */
export async function storeStarTransactions(
  db: Executor,
  projectId: string,
  ledger: StarTransaction[],
  now: Date,
): Promise<Array<{ id: string; direction: 'in' | 'out'; partnerType: string }>> {
  const unknown: Array<{ id: string; direction: 'in' | 'out'; partnerType: string }> = []
  for (const row of ledger) {
    const d = describe(row)
    if (!KNOWN_PARTNER_TYPES.has(d.partnerType))
      unknown.push({ id: row.id, direction: d.direction, partnerType: d.partnerType })
    await db
      .insert(starTransactions)
      .values({
        projectId,
        id: row.id,
        direction: d.direction,
        nanostars: d.nanostars,
        partnerType: d.partnerType,
        detail: d.detail,
        withdrawalState: d.withdrawalState,
        flagged: d.flagged,
        raw: row as unknown as Record<string, unknown>,
        occurredAt: new Date(row.date * 1000),
        firstSeenAt: now,
        lastSeenAt: now,
      })
      .onConflictDoUpdate({
        target: [starTransactions.projectId, starTransactions.id, starTransactions.direction],
        set: {
          detail: d.detail,
          withdrawalState: d.withdrawalState,
          raw: row as unknown as Record<string, unknown>,
          lastSeenAt: now,
        },
      })
  }
  return unknown
}

/** Stars as a decimal string, exact to the nanostar: 12_500_000_000 → "12.5". */
export function starsText(nanostars: number): string {
  const sign = nanostars < 0 ? '-' : ''
  const abs = BigInt(Math.abs(nanostars))
  const whole = abs / BigInt(NANO)
  const frac = (abs % BigInt(NANO)).toString().padStart(9, '0').replace(/0+$/, '')
  return `${sign}${whole}${frac ? `.${frac}` : ''}`
}

export interface TreasuryOutflow {
  id: string
  partnerType: string
  detail: string | null
  withdrawalState: string | null
  nanostars: number
  flagged: string | null
  occurredAt: string
}

export interface Treasury {
  /** `getMyStarBalance`, in nanostars. */
  telegramBalanceNanostars: number
  /** Net of every charge kept (paid or unmatched, not refunded): gross minus commission. */
  netRevenueNanostars: number
  grossRevenueNanostars: number
  commissionNanostars: number
  /** The bot's own affiliate earnings and other non-user income Telegram listed. */
  otherIncomeNanostars: number
  outflows: {
    /** Fragment withdrawals that succeeded or are pending (a failed one returns the Stars). */
    withdrawalsNanostars: number
    adsNanostars: number
    apiNanostars: number
    /** Gifts and Premium bought for users, business transfers. */
    giftsAndPremiumNanostars: number
    otherNanostars: number
    totalNanostars: number
  }
  withdrawals: TreasuryOutflow[]
  /** Local net revenue + other income − outflows: what Telegram's balance should be. */
  expectedBalanceNanostars: number
  /** Telegram's balance − expected; zero when the books agree. */
  differenceNanostars: number
  agrees: boolean
  /** Why it does not agree, in words; empty when it does. */
  flags: string[]
  /** The same figures as exact decimal Stars, for people. */
  text: { telegramBalance: string; expectedBalance: string; difference: string; netRevenue: string }
  checkedAt: string
}

/**
 * The bot's Stars treasury: Telegram's balance next to e-Stars' books. Revenue is the local
 * payments' net (after affiliate commissions); outflows come from the stored Telegram ledger
 * (reconciliation keeps it). When local net revenue plus other income minus outflows is not
 * Telegram's balance, the difference is flagged — a chargeback, a payment never recorded, a
 * ledger not reconciled yet. Telegram is read first, with no transaction open.
 */
export async function treasury(
  db: Db,
  input: { projectId: string; botApi: Pick<BotApi, 'getMyStarBalance'>; now?: Date | undefined },
): Promise<Treasury> {
  let balance: { amount: number; nanostar_amount?: number | undefined }
  try {
    balance = await input.botApi.getMyStarBalance()
  } catch (error) {
    throw telegramFailure('getMyStarBalance', error)
  }
  const telegramBalance = balance.amount * NANO + (balance.nanostar_amount ?? 0)
  const [revenue] = await rows<{
    gross: string | null
    commission: string | null
    net: string | null
  }>(
    db,
    sql`select sum(coalesce(gross_nanostars, amount_stars * 1000000000)) as gross,
          sum(commission_nanostars) as commission,
          sum(coalesce(net_nanostars, amount_stars * 1000000000)) as net
        from payments where project_id = ${input.projectId} and status in ('paid', 'unmatched')`,
  )
  const ledger = await db
    .select()
    .from(starTransactions)
    .where(eq(starTransactions.projectId, input.projectId))
    .orderBy(desc(starTransactions.occurredAt))
  let otherIncome = 0
  const out = { withdrawals: 0, ads: 0, api: 0, gifts: 0, other: 0 }
  const withdrawals: TreasuryOutflow[] = []
  const flags: string[] = []
  for (const t of ledger) {
    if (t.flagged) flags.push(`transaction ${t.id}: ${t.flagged}`)
    if (t.direction === 'in') {
      // A user's charge is counted from the local payments; the rest is other income.
      if (t.partnerType !== 'user') otherIncome += t.nanostars
      continue
    }
    if (t.partnerType === 'fragment') {
      withdrawals.push({
        id: t.id,
        partnerType: t.partnerType,
        detail: t.detail,
        withdrawalState: t.withdrawalState,
        nanostars: t.nanostars,
        flagged: t.flagged,
        occurredAt: t.occurredAt.toISOString(),
      })
      if (t.withdrawalState !== 'failed') out.withdrawals += t.nanostars
    } else if (t.partnerType === 'telegram_ads') out.ads += t.nanostars
    else if (t.partnerType === 'telegram_api') out.api += t.nanostars
    else if (t.partnerType === 'user') {
      // Refunds to users are already out of revenue (the payment is `refunded`).
      if (t.detail !== null && SPENDING_TYPES.has(t.detail)) out.gifts += t.nanostars
    } else out.other += t.nanostars
  }
  const totalOut = out.withdrawals + out.ads + out.api + out.gifts + out.other
  const net = Number(revenue?.net ?? 0)
  const expected = net + otherIncome - totalOut
  const difference = telegramBalance - expected
  if (difference !== 0)
    flags.unshift(
      `Telegram's balance is ${starsText(telegramBalance)} Stars; e-Stars' books say ${starsText(expected)} (difference ${starsText(difference)})`,
    )
  return {
    telegramBalanceNanostars: telegramBalance,
    netRevenueNanostars: net,
    grossRevenueNanostars: Number(revenue?.gross ?? 0),
    commissionNanostars: Number(revenue?.commission ?? 0),
    otherIncomeNanostars: otherIncome,
    outflows: {
      withdrawalsNanostars: out.withdrawals,
      adsNanostars: out.ads,
      apiNanostars: out.api,
      giftsAndPremiumNanostars: out.gifts,
      otherNanostars: out.other,
      totalNanostars: totalOut,
    },
    withdrawals,
    expectedBalanceNanostars: expected,
    differenceNanostars: difference,
    agrees: difference === 0,
    flags,
    text: {
      telegramBalance: starsText(telegramBalance),
      expectedBalance: starsText(expected),
      difference: starsText(difference),
      netRevenue: starsText(net),
    },
    checkedAt: (input.now ?? new Date()).toISOString(),
  }
}

/** The stored Telegram ledger's outgoing rows (withdrawals, ads, API, gifts), newest first. */
export async function listStarOutflows(
  db: Executor,
  input: { projectId: string; limit?: number | undefined },
): Promise<TreasuryOutflow[]> {
  const list = await db
    .select()
    .from(starTransactions)
    .where(
      and(eq(starTransactions.projectId, input.projectId), eq(starTransactions.direction, 'out')),
    )
    .orderBy(desc(starTransactions.occurredAt))
    .limit(input.limit ?? 100)
  return list.map((t) => ({
    id: t.id,
    partnerType: t.partnerType,
    detail: t.detail,
    withdrawalState: t.withdrawalState,
    nanostars: t.nanostars,
    flagged: t.flagged,
    occurredAt: t.occurredAt.toISOString(),
  }))
}
